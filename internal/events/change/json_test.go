package change_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"gatehouse/internal/events/change"
)

type role string

// TestMarshalAsEncodingJSON holds Marshal to encoding/json's output byte
// for byte, for the values changes hold and for others.
func TestMarshalAsEncodingJSON(t *testing.T) {
	n := 7
	berlin := time.FixedZone("CET", 3600)
	odd := time.FixedZone("odd", 3600+30) // an offset in seconds: MarshalJSON refuses it
	sets := map[string]change.Set{
		"nil":   nil,
		"empty": {},
		"plain": {"username": {From: "alice", To: "bob"}, "days": {From: 30, To: int64(-5)}, "enabled": {From: true, To: false}},
		"none":  {"graceEndsAt": {From: nil, To: nil}},
		"times": {
			"expiresAt":  {From: time.Date(2026, 11, 27, 23, 18, 32, 123456000, time.UTC), To: time.Date(2026, 1, 2, 3, 4, 5, 0, berlin)},
			"startsAt":   {From: time.Time{}, To: time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC)},
			"farFuture":  {From: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), To: nil},
			"oddOffset":  {From: time.Date(2026, 1, 2, 3, 4, 5, 0, odd), To: nil},
			"localMicro": {From: time.Date(2026, 6, 1, 12, 0, 0, 1000, time.FixedZone("", -7*3600)), To: nil},
			"zone24":     {From: time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("", 24*3600)), To: nil},
			"zone-25":    {From: time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("", -25*3600)), To: nil},
			"zone23":     {From: time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("", 23*3600+59*60)), To: nil},
			"yearMinus":  {From: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), To: nil},
			"year0":      {From: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), To: nil},
		},
		"escaped": {
			"a<b>&c":     {From: "quote \" back \\ slash", To: "tab\tnew\nline"},
			"unicode":    {From: "grüße ✓", To: "\u2028\u2029"},
			"invalid":    {From: "bad \xff utf-8", To: "\x00\x1f\x7f"},
			"html":       {From: "<script>", To: "a & b"},
			"[redacted]": {From: change.Redacted, To: change.Redacted},
		},
		"others": {
			"float":   {From: 1.5, To: 1e21},
			"pointer": {From: &n, To: (*int)(nil)},
			"list":    {From: []string{"a", "b<"}, To: []int(nil)},
			"named":   {From: role("ADMIN"), To: role("USER")},
			"map":     {From: map[string]any{"z": 1, "a": "x"}, To: struct{ A int }{3}},
			"uint":    {From: uint64(math.MaxUint64), To: int64(math.MinInt64)},
		},
	}
	for name, s := range sets {
		t.Run(name, func(t *testing.T) {
			want, wantErr := json.Marshal(s)
			got, err := change.Marshal(s)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json's %v", err, wantErr)
			}
			if string(got) != string(want) {
				t.Errorf("got\n%s\nencoding/json writes\n%s", got, want)
			}
		})
	}
}

// TestMarshalError: a value encoding/json cannot write fails the same way.
func TestMarshalError(t *testing.T) {
	s := change.Set{"f": {From: func() {}, To: nil}}
	if _, err := change.Marshal(s); err == nil {
		t.Fatal("a function was written as JSON")
	}
	if _, err := change.Marshal(change.Set{"f": {From: math.NaN()}}); err == nil {
		t.Fatal("NaN was written as JSON")
	}
}

// FuzzMarshal compares Marshal with encoding/json on any text and number.
func FuzzMarshal(f *testing.F) {
	f.Add("username", "alice", int64(3), true)
	f.Add("a\"b", "<\u2028>\xff", int64(-1), false)
	f.Fuzz(func(t *testing.T, key, text string, n int64, b bool) {
		s := change.Set{key: {From: text, To: n}, key + "2": {From: b, To: time.Unix(n%(1<<40), n%1e9).UTC()}}
		want, _ := json.Marshal(s)
		got, err := change.Marshal(s)
		if err != nil || string(got) != string(want) {
			t.Fatalf("got %s (%v), encoding/json writes %s", got, err, want)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	now := time.Now().UTC()
	s := change.Set{"expiresAt": {From: now, To: now.Add(time.Hour)}, "graceEndsAt": {From: now, To: now.Add(2 * time.Hour)}}
	b.Run("change", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := change.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
