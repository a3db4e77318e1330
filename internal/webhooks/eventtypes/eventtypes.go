// Package eventtypes is the list of event types a webhook endpoint
// receives, and how an event's type is matched against it. It is a leaf
// package, so that the ent schema can store the list as its own type.
package eventtypes

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits on a list.
const (
	// Max is the most entries one list may hold.
	Max = 50
	// MaxLen bounds one entry.
	MaxLen = 100
)

// pattern is an exact event type ("user.created") or a prefix ending in
// ".*" ("user_package.*"): dot-separated segments of lower-case letters,
// digits and underscores, each starting with a letter.
var pattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$`)

// List is the event types a webhook endpoint receives: exact types and
// prefixes such as "user_package.*". An empty list receives every type.
type List []string

// Matches reports whether an event of type typ goes to an endpoint whose
// list is l: l is empty, holds typ itself, or holds a prefix "p.*" and typ
// starts with "p." (and goes on).
func (l List) Matches(typ string) bool {
	if len(l) == 0 {
		return true
	}
	for _, t := range l {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			if len(typ) > len(p) && strings.HasPrefix(typ, p) {
				return true
			}
		} else if t == typ {
			return true
		}
	}
	return false
}

// Validate checks the list's length and each entry's shape.
func Validate(l List) error {
	if len(l) > Max {
		return fmt.Errorf("must list at most %d event types", Max)
	}
	for i, t := range l {
		if len(t) > MaxLen || !pattern.MatchString(t) {
			return fmt.Errorf("entry %d (%.*q) must be an event type such as user.created or a prefix such as user_package.*, at most %d characters", i+1, MaxLen, t, MaxLen)
		}
	}
	return nil
}

// String is the list as one text, its entries joined by ", " (empty:
// every type).
func (l List) String() string { return strings.Join(l, ", ") }
