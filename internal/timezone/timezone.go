// Package timezone checks and loads the IANA time zone an admin chooses
// for the dashboard's times: one rule for the ent schema's validator and
// the dashboard's account form.
package timezone

import (
	"errors"
	"strings"
	"time"

	// The zone database goes into the binary: a container without
	// /usr/share/zoneinfo still knows every zone.
	_ "time/tzdata"
)

// MaxLen is the longest zone name accepted (the longest IANA name is 32
// characters long).
const MaxLen = 64

// ErrUnknown is the answer for a name that is not an IANA time zone.
var ErrUnknown = errors.New("is not a known IANA time zone, such as Europe/Berlin or America/New_York")

// Load returns the zone named name; "" is UTC. It accepts only IANA names
// (and "UTC"): never "Local" (the server's own zone), a path or anything
// longer than MaxLen.
func Load(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if len(name) > MaxLen || name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") ||
		strings.ContainsFunc(name, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r))
		}) {
		return nil, ErrUnknown
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, ErrUnknown
	}
	return loc, nil
}

// Validate is Load's verdict alone, for the schema's validator.
func Validate(name string) error {
	_, err := Load(name)
	return err
}
