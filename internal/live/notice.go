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
//
// A change names the rows it touched rather than their owners when the
// owner would take a query to find: the write pays no query for its
// subscribers, and only a process with subscriptions looks the owners up,
// after the commit (Hub.resolve).
type Notice struct {
	Users    []int    `json:"u,omitempty"`
	Packages []int    `json:"p,omitempty"`
	Types    []string `json:"t,omitempty"`
	// Assignments (user packages) and Sessions stand for their users.
	Assignments []int `json:"a,omitempty"`
	Sessions    []int `json:"s,omitempty"`
	// Contents (package contents) stand for their packages, Features for
	// the packages that hold them.
	Contents []int `json:"c,omitempty"`
	Features []int `json:"f,omitempty"`
}

// lists are n's lists of ids, for what treats them alike.
func (n *Notice) lists() []*[]int {
	return []*[]int{&n.Users, &n.Packages, &n.Assignments, &n.Sessions, &n.Contents, &n.Features}
}

func (n *Notice) empty() bool {
	for _, l := range n.lists() {
		if len(*l) > 0 {
			return false
		}
	}
	return true
}

// merge adds m's ids and types to n.
func (n *Notice) merge(m *Notice) {
	ml := m.lists()
	for i, l := range n.lists() {
		for _, id := range *ml[i] {
			*l = addInt(*l, id)
		}
	}
	for _, t := range m.Types {
		n.addType(t)
	}
}

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
	for i, l := range n.lists() {
		for _, id := range *l {
			if used+perID > max {
				flush()
			}
			dst := cur.lists()[i]
			*dst = append(*dst, id)
			used += perID
		}
	}
	flush()
	return out
}
