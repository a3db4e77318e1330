package timezone

import (
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
		want string
	}{
		{"", true, "UTC"},
		{"UTC", true, "UTC"},
		{"Europe/Berlin", true, "Europe/Berlin"},
		{"America/Argentina/Buenos_Aires", true, "America/Argentina/Buenos_Aires"},
		{"Etc/GMT+5", true, "Etc/GMT+5"},
		{"Local", false, ""},
		{"Mars/Olympus_Mons", false, ""},
		{"../../etc/passwd", false, ""},
		{"/usr/share/zoneinfo/UTC", false, ""},
		{"Europe/Berlin ", false, ""},
		{"Europe/Berlin\x00", false, ""},
		{strings.Repeat("A", MaxLen+1), false, ""},
	} {
		loc, err := Load(c.name)
		if (err == nil) != c.ok {
			t.Errorf("Load(%q): %v, want ok %v", c.name, err, c.ok)
			continue
		}
		if c.ok && loc.String() != c.want {
			t.Errorf("Load(%q) = %s, want %s", c.name, loc, c.want)
		}
		if !c.ok && err != ErrUnknown {
			t.Errorf("Load(%q): %v, want ErrUnknown", c.name, err)
		}
	}
	if loc, _ := Load(""); loc != time.UTC {
		t.Error(`Load("") is not time.UTC`)
	}
}
