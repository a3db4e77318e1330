package change

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Marshal encodes s as encoding/json does, byte for byte, and faster for
// the values changes hold (text, numbers, booleans, times, none): every
// change writes its set in its own transaction, and encoding/json's
// reflection, map key sorting and compaction of a time's own JSON were a
// fair share of what the event cost a write. Any other value is left to
// encoding/json.
func Marshal(s Set) ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 64*len(s)+2)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendValue(b, k); err != nil {
			return nil, err
		}
		c := s[k]
		b = append(b, `:{"from":`...)
		if b, err = appendValue(b, c.From); err != nil {
			return nil, err
		}
		b = append(b, `,"to":`...)
		if b, err = appendValue(b, c.To); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendValue appends v's JSON to b.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		if plain(v) {
			b = append(b, '"')
			b = append(b, v...)
			return append(b, '"'), nil
		}
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case time.Time:
		// What encoding/json writes for a time (its MarshalJSON, which
		// needs no compacting), written in place.
		n := len(b)
		b = append(b, '"')
		b = v.AppendFormat(b, time.RFC3339Nano)
		if strictRFC3339(b[n+1:]) {
			return append(b, '"'), nil
		}
		b = b[:n] // MarshalJSON refuses it: encoding/json says why
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// plain tells whether encoding/json writes s as it is between quotes:
// printable ASCII that it neither escapes nor, by default, HTML-escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// strictRFC3339 tells whether a time written in RFC 3339 is one
// time.Time's MarshalJSON accepts: a year of four digits and a zone's
// hour below 24.
func strictRFC3339(t []byte) bool {
	if len(t) < len("2006-01-02T15:04:05Z") || t[4] != '-' {
		return false
	}
	if t[len(t)-1] == 'Z' {
		return true
	}
	z := t[len(t)-len("-07:00"):]
	if (z[0] != '+' && z[0] != '-') || z[1] < '0' || z[1] > '9' || z[2] < '0' || z[2] > '9' {
		return false
	}
	return (z[1]-'0')*10+(z[2]-'0') < 24
}
