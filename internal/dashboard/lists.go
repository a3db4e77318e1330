package dashboard

import (
	"entgo.io/ent/dialect/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/views/components"
)

// listSpec says what a list accepts from its URL.
type listSpec struct {
	path    string
	sorts   []string // sortable column keys
	sort    string   // default sort key
	dir     string   // default direction
	filters map[string]func(string) bool
}

const defaultPageSize = 25

// parseList reads a list's state from the URL, enforcing every limit a
// client controls: known sort keys only, page size 1–100, search at most
// 100 characters, filters that pass their check (others are dropped).
func parseList(r *http.Request, spec listSpec) components.List {
	q := r.URL.Query()
	l := components.List{
		Path:        spec.path,
		Page:        1,
		Size:        defaultPageSize,
		Sort:        spec.sort,
		Dir:         spec.dir,
		Filters:     url.Values{},
		DefaultSort: spec.sort,
		DefaultDir:  spec.dir,
		DefaultSize: defaultPageSize,
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		l.Page = min(n, 1_000_000)
	}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && n > 0 {
		l.Size = min(n, components.MaxPageSize)
	}
	if s := q.Get("sort"); s != "" {
		for _, k := range spec.sorts {
			if s == k {
				l.Sort = k
				l.Dir = "asc"
				break
			}
		}
	}
	if q.Get("dir") == "desc" && l.Sort == q.Get("sort") {
		l.Dir = "desc"
	}
	l.Q = truncateRunes(strings.TrimSpace(q.Get("q")), components.MaxSearchLen)
	for name, ok := range spec.filters {
		v := strings.TrimSpace(q.Get(name))
		if v != "" && len(v) <= 100 && ok(v) {
			l.Filters.Set(name, v)
		}
	}
	return l
}

// fitPage moves the page back within the results once their number is
// known.
func fitPage(l *components.List, total int) {
	l.Total = total
	if l.Page > l.Pages() {
		l.Page = l.Pages()
	}
}

func oneOf(vals ...string) func(string) bool {
	return func(v string) bool {
		for _, x := range vals {
			if v == x {
				return true
			}
		}
		return false
	}
}

func isID(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n > 0 && strconv.Itoa(n) == v
}

func filterID(l components.List, name string) int {
	n, _ := strconv.Atoi(l.Filter(name))
	return n
}

func offset(l components.List) int { return (l.Page - 1) * l.Size }

func orderTerm(l components.List) sql.OrderTermOption {
	if l.Dir == "desc" {
		return sql.OrderDesc()
	}
	return sql.OrderAsc()
}
