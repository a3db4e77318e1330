package live

import (
	"encoding/json"
	"slices"
)

// Notice says whose access a committed change may have altered: users
// named outright (their assignments, their sessions, themselves) and
// packages (whose holders are the subscribers whose last look at their
// assignments found the package). Types are the events' types, which
// become the reason of the change a subscriber is sent.
type Notice struct {
	Users    []int    `json:"u,omitempty"`
	Packages []int    `json:"p,omitempty"`
	Types    []string `json:"t,omitempty"`
}

func (n *Notice) empty() bool { return len(n.Users) == 0 && len(n.Packages) == 0 }

func addInt(list []int, v int) []int {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func (n *Notice) addUser(id int)    { n.Users = addInt(n.Users, id) }
func (n *Notice) addPackage(id int) { n.Packages = addInt(n.Packages, id) }
func (n *Notice) addType(t string) {
	if !slices.Contains(n.Types, t) && len(n.Types) < maxTypes {
		n.Types = append(n.Types, t)
	}
}

// maxTypes bounds the event types one notice carries (a change of many
// kinds at once is told as its first few).
const maxTypes = 8

// MaxPayload bounds one NOTIFY payload, well under PostgreSQL's 8000
// bytes.
const MaxPayload = 7000

// split cuts n into payloads of at most max bytes each: the users and
// packages are spread over as many notices as needed, each carrying the
// types.
func (n *Notice) split(max int) [][]byte {
	var out [][]byte
	cur := Notice{Types: n.Types}
	size := func(c *Notice) int { b, _ := json.Marshal(c); return len(b) }
	base := size(&cur)
	used := base
	flush := func() {
		if !cur.empty() {
			b, _ := json.Marshal(&cur)
			out = append(out, b)
		}
		cur = Notice{Types: n.Types}
		used = base
	}
	// An id costs at most its digits, a comma and a key ("u":[]).
	const perID = 24
	for _, u := range n.Users {
		if used+perID > max {
			flush()
		}
		cur.Users = append(cur.Users, u)
		used += perID
	}
	for _, p := range n.Packages {
		if used+perID > max {
			flush()
		}
		cur.Packages = append(cur.Packages, p)
		used += perID
	}
	flush()
	return out
}
