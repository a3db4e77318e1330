package generated

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TestScalarsWriteAsGqlgen holds the scalar marshallers graph/gqlgen puts
// in place of gqlgen's (marshalBoolean, marshalInt, marshalIntID,
// marshalTime) to the bytes gqlgen's write, into the answer's buffer (a
// bytes.Buffer, already holding text) and into any other writer.
func TestScalarsWriteAsGqlgen(t *testing.T) {
	type pair struct {
		name       string
		ours, want graphql.Marshaler
	}
	var cases []pair
	for _, b := range []bool{true, false} {
		cases = append(cases, pair{"bool", marshalBoolean(b), graphql.MarshalBoolean(b)})
	}
	for _, i := range []int{0, 1, -1, 7, 255, 256, 1 << 32, 4294967297, -4294967297, math.MaxInt64, math.MinInt64} {
		cases = append(cases, pair{"int", marshalInt(i), graphql.MarshalInt(i)}, pair{"intID", marshalIntID(i), graphql.MarshalIntID(i)})
	}
	zones := []*time.Location{time.UTC, time.FixedZone("X", -(3*3600 + 30*60)), time.FixedZone("", 5*3600+45*60)}
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		zones = append(zones, l)
	}
	for _, z := range zones {
		for _, tm := range []time.Time{
			time.Date(2026, 11, 27, 15, 4, 5, 0, z),
			time.Date(2026, 11, 27, 15, 4, 5, 123456789, z),
			time.Date(2026, 11, 27, 15, 4, 5, 120000000, z),
			time.Date(1, 1, 1, 0, 0, 0, 1, z),
			time.Date(12345, 6, 7, 8, 9, 10, 11, z),
			time.Date(-44, 3, 15, 12, 0, 0, 0, z),
			{},
		} {
			cases = append(cases, pair{"time " + tm.String(), marshalTime(tm), graphql.MarshalTime(tm)})
		}
	}
	for _, c := range cases {
		if (c.ours == graphql.Null) != (c.want == graphql.Null) {
			t.Errorf("%s: null %v, gqlgen's %v", c.name, c.ours == graphql.Null, c.want == graphql.Null)
			continue
		}
		for _, prefix := range []string{"", strings.Repeat("x", 61)} {
			var ours, want bytes.Buffer
			ours.WriteString(prefix)
			want.WriteString(prefix)
			c.ours.MarshalGQL(&ours)
			c.want.MarshalGQL(&want)
			if ours.String() != want.String() {
				t.Errorf("%s: writes %q, gqlgen's %q", c.name, ours.String(), want.String())
			}
		}
		var ours, want strings.Builder
		c.ours.MarshalGQL(onlyWriter{&ours})
		c.want.MarshalGQL(onlyWriter{&want})
		if ours.String() != want.String() {
			t.Errorf("%s, into a plain writer: writes %q, gqlgen's %q", c.name, ours.String(), want.String())
		}
	}
}

// onlyWriter hides everything of a writer but Write.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
