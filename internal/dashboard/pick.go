package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/pkg"
	"gatehouse/ent/predicate"
	"gatehouse/ent/user"
	"gatehouse/internal/db"
	"gatehouse/views/components"
)

// Pickers choose one user, package or feature among any number of them: a
// search field that asks GET /admin/pick/{kind}?q=… (with script), or a
// "Find" button that shows the form again with the matches to choose from
// (without). Both search the same way: names that start with q first, then
// names that contain it, case-insensitively, at most pickLimit of them.

// pickLimit is the most matches one search answers.
const pickLimit = 20

// pickTimeout bounds one search (a substring search may scan a table).
const pickTimeout = 3 * time.Second

// pickItem is one match.
type pickItem struct {
	ID    string `json:"id"` // the value the form posts
	Label string `json:"label"`
	Days  int    `json:"days,omitempty"` // a package's days
	Kind  string `json:"kind,omitempty"` // a feature's kind
	// name is what an exact search names (a username, a package's name, a
	// feature's key).
	name string
}

// pickAnswer is the endpoint's JSON.
type pickAnswer struct {
	Query   string     `json:"query"`
	Matches []pickItem `json:"matches"`
	// More says that more records match than were answered.
	More bool `json:"more"`
}

// pickOpts narrow a search.
type pickOpts struct {
	enabledOnly bool // users: only enabled ones (who may be given a session)
}

// picker is one kind of record a picker chooses.
type picker struct {
	kind  string // users, packages, features (the endpoint's last segment)
	what  string // "user", for messages
	find  func(d *Dashboard, ctx context.Context, q string, o pickOpts) ([]pickItem, bool, error)
	byVal func(d *Dashboard, ctx context.Context, v string) (*pickItem, error)
}

var (
	pickUsers    = picker{kind: "users", what: "user", find: (*Dashboard).findUsers, byVal: (*Dashboard).userByValue}
	pickPackages = picker{kind: "packages", what: "package", find: (*Dashboard).findPackages, byVal: (*Dashboard).packageByValue}
	pickFeatures = picker{kind: "features", what: "feature", find: (*Dashboard).findFeatures, byVal: (*Dashboard).featureByValue}
)

// pickQuery cleans a search: trimmed, at most MaxSearchLen characters.
func pickQuery(q string) string {
	return truncateRunes(strings.TrimSpace(q), components.MaxSearchLen)
}

// pick answers GET /admin/pick/{kind}?q=…: at most pickLimit matches as
// JSON. enabled=true asks for enabled users only.
func (d *Dashboard) pick(w http.ResponseWriter, r *http.Request) {
	var p picker
	switch r.PathValue("kind") {
	case "users":
		p = pickUsers
	case "packages":
		p = pickPackages
	case "features":
		p = pickFeatures
	default:
		pickJSON(w, http.StatusNotFound, map[string]string{"error": "no such kind of record"})
		return
	}
	raw := r.URL.Query().Get("q")
	if utf8.RuneCountInString(raw) > components.MaxSearchLen || !utf8.ValidString(raw) {
		pickJSON(w, http.StatusBadRequest, map[string]string{"error": "q must be valid text of at most " + strconv.Itoa(components.MaxSearchLen) + " characters"})
		return
	}
	q := pickQuery(raw)
	items, more, err := p.find(d, r.Context(), q, pickOpts{enabledOnly: r.URL.Query().Get("enabled") == "true"})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard pick", "kind", p.kind, "err", err)
		pickJSON(w, http.StatusInternalServerError, map[string]string{"error": "the search failed; try again"})
		return
	}
	if items == nil {
		items = []pickItem{}
	}
	pickJSON(w, http.StatusOK, pickAnswer{Query: q, Matches: items, More: more})
}

func pickJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// prefixEnd is the least string greater than every string that starts
// with s in byte order ("" when there is none): "abc" → "abd".
func prefixEnd(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// byteOrdered reports whether the database compares text byte by byte,
// so that a prefix is a range of its indexes: always on SQLite, and on
// PostgreSQL when the database's collation is C (or C.UTF-8, POSIX).
func (d *Dashboard) byteOrdered(ctx context.Context) bool {
	if d.db == nil || d.db.Driver != db.Postgres {
		return true
	}
	if v, ok := byteOrderedDBs.Load(d.db); ok {
		return v.(bool)
	}
	var c string
	err := d.db.Read.QueryRowContext(ctx, "SELECT datcollate FROM pg_database WHERE datname = current_database()").Scan(&c)
	if err != nil {
		// Not known: the plain LIKE is right on any collation.
		d.log.WarnContext(ctx, "dashboard pick: read the database collation", "err", err)
		return false
	}
	bytes := c == "C" || c == "POSIX" || strings.HasPrefix(c, "C.")
	byteOrderedDBs.Store(d.db, bytes)
	return bytes
}

// byteOrderedDBs remembers byteOrdered per database (*db.DB → bool).
var byteOrderedDBs sync.Map

// userPrefix is "username_fold starts with fold": a range of the unique
// index on username_fold where text is byte-ordered (the LIKE then only
// confirms), else the LIKE alone.
func userPrefix(fold string, ranged bool) predicate.User {
	ps := []predicate.User{user.UsernameFoldHasPrefix(fold)}
	if ranged && fold != "" {
		ps = append(ps, user.UsernameFoldGTE(fold))
		if end := prefixEnd(fold); end != "" {
			ps = append(ps, user.UsernameFoldLT(end))
		}
	}
	return user.And(ps...)
}

// userPickQueries are the two searches of a user picker: names starting
// with q (an index range), then names containing q elsewhere (a walk of
// the same index in order that stops at the limit).
func userPickQueries(c *ent.Client, q string, ranged bool, o pickOpts) (prefix, substr *ent.UserQuery) {
	fold := strings.ToLower(q)
	base := func() *ent.UserQuery {
		uq := c.User.Query()
		if o.enabledOnly {
			uq.Where(user.Disabled(false))
		}
		return uq.Order(user.ByUsernameFold())
	}
	prefix = base()
	if fold != "" {
		prefix.Where(userPrefix(fold, ranged))
		substr = base().Where(user.UsernameFoldContains(fold), user.Not(user.UsernameFoldHasPrefix(fold)))
	}
	return prefix, substr
}

func (d *Dashboard) findUsers(ctx context.Context, q string, o pickOpts) ([]pickItem, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pickTimeout)
	defer cancel()
	prefix, substr := userPickQueries(d.client, q, d.byteOrdered(ctx), o)
	var more func(int) ([]*ent.User, error)
	if substr != nil {
		// The substring search may walk the whole username_fold index: it
		// reads ids only (the index covers them, no table row is read
		// for a name that does not match), then the rows of the matches.
		more = func(n int) ([]*ent.User, error) {
			ids, err := substr.Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return nil, err
			}
			return d.client.User.Query().Where(user.IDIn(ids...)).Order(user.ByUsernameFold()).All(ctx)
		}
	}
	return pickTwo(ctx, prefix.Limit, more, userItem)
}

// pickTwo runs a prefix query, then (when it left room) its substring
// query, and reports whether more than pickLimit matched.
func pickTwo[T any, Q interface {
	All(context.Context) ([]T, error)
}](
	ctx context.Context, prefix func(int) Q, substr func(int) ([]T, error), item func(T) pickItem,
) ([]pickItem, bool, error) {
	rows, err := prefix(pickLimit + 1).All(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(rows) <= pickLimit && substr != nil {
		more, err := substr(pickLimit + 1 - len(rows))
		if err != nil {
			return nil, false, err
		}
		rows = append(rows, more...)
	}
	out := make([]pickItem, 0, min(len(rows), pickLimit))
	for i, r := range rows {
		if i == pickLimit {
			break
		}
		out = append(out, item(r))
	}
	return out, len(rows) > pickLimit, nil
}

func userItem(u *ent.User) pickItem {
	label := u.Username
	if u.Disabled {
		label += " (disabled)"
	}
	return pickItem{ID: strconv.Itoa(u.ID), Label: label, name: u.Username}
}

func (d *Dashboard) userByValue(ctx context.Context, v string) (*pickItem, error) {
	id, err := strconv.Atoi(v)
	if err != nil || id <= 0 {
		return nil, nil
	}
	u, err := d.client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	it := userItem(u)
	return &it, nil
}

// Packages and features are a catalogue (tens or hundreds of rows, not
// millions): their searches fold case in the query and scan, in order,
// up to the limit.

func (d *Dashboard) findPackages(ctx context.Context, q string, _ pickOpts) ([]pickItem, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pickTimeout)
	defer cancel()
	base := func() *ent.PkgQuery { return d.client.Pkg.Query().Order(pkg.ByName(), pkg.ByID()) }
	prefix := base()
	var substr *ent.PkgQuery
	if q != "" {
		prefix.Where(predicate.Pkg(entsql.FieldHasPrefixFold(pkg.FieldName, q)))
		substr = base().Where(pkg.NameContainsFold(q), pkg.Not(predicate.Pkg(entsql.FieldHasPrefixFold(pkg.FieldName, q))))
	}
	return pickTwo(ctx, prefix.Limit, allOf(ctx, substr), packageItem)
}

func packageItem(p *ent.Pkg) pickItem {
	return pickItem{
		ID: strconv.Itoa(p.ID), Label: p.Name + " (" + components.Plural(p.Days, "day", "days") + ")",
		Days: p.Days, name: p.Name,
	}
}

func (d *Dashboard) packageByValue(ctx context.Context, v string) (*pickItem, error) {
	id, err := strconv.Atoi(v)
	if err != nil || id <= 0 {
		return nil, nil
	}
	p, err := d.client.Pkg.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	it := packageItem(p)
	return &it, nil
}

func (d *Dashboard) findFeatures(ctx context.Context, q string, _ pickOpts) ([]pickItem, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pickTimeout)
	defer cancel()
	base := func() *ent.FeatureQuery { return d.client.Feature.Query().Order(feature.ByName(), feature.ByKey()) }
	prefix := base()
	var substr *ent.FeatureQuery
	if q != "" {
		starts := feature.Or(predicate.Feature(entsql.FieldHasPrefixFold(feature.FieldKey, q)), predicate.Feature(entsql.FieldHasPrefixFold(feature.FieldName, q)))
		prefix.Where(starts)
		substr = base().Where(feature.Or(feature.KeyContainsFold(q), feature.NameContainsFold(q)), feature.Not(starts))
	}
	return pickTwo(ctx, prefix.Limit, allOf(ctx, substr), featureItem)
}

func featureItem(f *ent.Feature) pickItem {
	label := f.Name + " (" + f.Key + ")"
	if f.Kind == feature.KindLIMIT {
		label += " · limit"
	}
	return pickItem{ID: f.Key, Label: label, Kind: string(f.Kind), name: f.Key}
}

func (d *Dashboard) featureByValue(ctx context.Context, v string) (*pickItem, error) {
	if !isFeatureKey(v) {
		return nil, nil
	}
	f, err := d.client.Feature.Query().Where(feature.Key(v)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	it := featureItem(f)
	return &it, nil
}

// allOf runs q with a limit (nil when q is).
func allOf[T any, Q interface {
	comparable
	Limit(int) Q
	All(context.Context) ([]T, error)
}](ctx context.Context, q Q) func(int) ([]T, error) {
	var zero Q
	if q == zero {
		return nil
	}
	return func(n int) ([]T, error) { return q.Limit(n).All(ctx) }
}
