package config

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML and environment variables as
// a Go duration string such as "90s", "15m" or "24h".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a Go duration such as \"90s\", \"15m\" or \"24h\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in its shortest usual form ("24h"
// rather than "24h0m0s").
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is like time.Duration.String without trailing zero units.
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
