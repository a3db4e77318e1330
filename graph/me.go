package graph

import (
	"context"
	"slices"
	"strings"
	"sync"
	"unicode"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// The viewer's own tree under `me` is read in at most three statements
// beside the session lookup (which already read the user): assignments
// joined with their packages, the packages' contents joined with their
// features, and sessions; each only when the selection asks for it, and
// of each table only the columns the fields asked need (treeTable). The
// statements are written by hand and bypass privacy rules, so each keeps
// to the viewer's rows itself (user_id = the viewer's id); the tests hold
// the answers to those read through the privacy rules.

// me returns the viewer's user with the edges the selection under the
// current field asks for loaded.
func (r *queryResolver) me(ctx context.Context) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	var u *ent.User
	if au := auth.UserFrom(ctx, v.UserID); au != nil {
		// A copy per field: two aliases of me may be resolved at once.
		c := *au
		c.Edges = ent.UserEdges{}
		u = &c
	} else {
		var err error
		if u, err = r.Client.User.Get(ctx, v.UserID); err != nil {
			return nil, err
		}
	}
	sel := meSelection(ctx)
	if err := loadMe(ctx, r.Client, u, sel); err != nil {
		return nil, err
	}
	return u, nil
}

// edgeKey names an edge of a GraphQL type, e.g. {"User", "packages"}.
type edgeKey struct{ typ, field string }

// selection is what a selection under `me` asks for: the aliases under
// which each edge is read (anywhere in the tree), and whether the user's
// active features are.
type selection struct {
	aliases map[edgeKey][]string
	// fields are the fields asked of each type in the tree, under any
	// alias and anywhere: the tree's nodes are shared (a package under
	// two assignments, the user under their sessions).
	fields         map[string]map[string]bool
	activeFeatures bool
	// cut: the selection goes deeper than the walk went.
	cut bool
}

func (s *selection) asks(typ, field string) bool { return len(s.aliases[edgeKey{typ, field}]) > 0 }

// edgeTypes maps the edges of the tree under me to the types they lead to.
var edgeTypes = map[edgeKey]string{
	{"User", "packages"}:          "UserPackage",
	{"User", "sessions"}:          "UserSession",
	{"UserPackage", "user"}:       "User",
	{"UserPackage", "package"}:    "Package",
	{"Package", "contents"}:       "PackageContent",
	{"PackageContent", "package"}: "Package",
	{"PackageContent", "feature"}: "Feature",
	{"UserSession", "user"}:       "User",
}

// meSelection walks the selection under the current field (a User).
func meSelection(ctx context.Context) *selection {
	s := &selection{aliases: map[edgeKey][]string{}, fields: map[string]map[string]bool{}}
	oc := graphql.GetOperationContext(ctx)
	var walk func(typ string, set ast.SelectionSet, depth int)
	walk = func(typ string, set ast.SelectionSet, depth int) {
		if depth > 32 {
			s.cut = true
			return
		}
		for _, f := range graphql.CollectFields(oc, set, []string{typ, "Node"}) {
			if typ == "User" && f.Name == "activeFeatures" {
				s.activeFeatures = true
			}
			if s.fields[typ] == nil {
				s.fields[typ] = map[string]bool{}
			}
			s.fields[typ][f.Name] = true
			k := edgeKey{typ, f.Name}
			next, ok := edgeTypes[k]
			if !ok {
				continue
			}
			if !slices.Contains(s.aliases[k], f.Alias) {
				s.aliases[k] = append(s.aliases[k], f.Alias)
			}
			walk(next, f.Selections, depth+1)
		}
	}
	walk("User", graphql.GetFieldContext(ctx).Field.Selections, 0)
	return s
}

// treeTable is how the fields of a type in the tree under me map onto its
// table's columns. A field named like a column (createdAt: created_at)
// reads that column; derived fields read the columns listed (edges read
// none: the tree is joined on the always columns).
type treeTable struct {
	columns []string // all of them, in ent's order
	always  []string // the id and the keys the tree is joined on
	derived map[string][]string
}

// assignmentColumns are what an assignment's state is worked out from
// (access.FromUserPackage).
var assignmentColumns = []string{userpackage.FieldStartsAt, userpackage.FieldExpiresAt, userpackage.FieldGraceEndsAt, userpackage.FieldSuspendedAt}

var (
	upTable = &treeTable{
		columns: userpackage.Columns,
		always:  []string{userpackage.FieldID, userpackage.FieldUserID, userpackage.FieldPackageID},
		derived: map[string][]string{"state": assignmentColumns, "active": assignmentColumns, "user": nil, "package": nil},
	}
	pkgTable = &treeTable{
		columns: pkg.Columns,
		always:  []string{pkg.FieldID},
		derived: map[string][]string{"contents": nil, "userPackages": nil},
	}
	pcTable = &treeTable{
		columns: packagecontent.Columns,
		always:  []string{packagecontent.FieldID, packagecontent.FieldPackageID, packagecontent.FieldFeatureID},
		derived: map[string][]string{"package": nil, "feature": nil},
	}
	featTable = &treeTable{columns: feature.Columns, always: []string{feature.FieldID}}
	sessTable = &treeTable{
		columns: usersession.Columns,
		always:  []string{usersession.FieldID, usersession.FieldUserID},
		derived: map[string][]string{
			// auth.SessionActive
			"active":  {usersession.FieldRevokedAt, usersession.FieldExpiresAt, usersession.FieldMaxExpiresAt},
			"current": nil, "user": nil,
		},
	}
)

// pick is the columns to read for these fields (and extra): all of them
// when a field is neither a column nor derived.
func (t *treeTable) pick(fields map[string]bool, extra ...string) []string {
	need := make(map[string]bool, len(t.columns))
	for _, c := range t.always {
		need[c] = true
	}
	for _, c := range extra {
		need[c] = true
	}
	for f := range fields {
		if f == "__typename" {
			continue
		}
		if cols, ok := t.derived[f]; ok {
			for _, c := range cols {
				need[c] = true
			}
			continue
		}
		c := snakeCase(f)
		if !slices.Contains(t.columns, c) {
			return t.columns
		}
		need[c] = true
	}
	out := make([]string, 0, len(need))
	for _, c := range t.columns {
		if need[c] {
			out = append(out, c)
		}
	}
	return out
}

// snakeCase is the column of a GraphQL field named after it: packageID
// is package_id, userAgent user_agent.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 && !unicode.IsUpper(rune(s[i-1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// columns are the columns of each table that sel needs: every field it
// asks of a node is read, and nothing else. Active features are worked
// out from the assignments' states, the contents' limits and the
// features' keys, names and kinds.
func (sel *selection) columns() meColumns {
	if sel.cut {
		return meColumns{up: upTable.columns, pkg: pkgTable.columns, pc: pcTable.columns, feat: featTable.columns, sess: sessTable.columns}
	}
	var upX, pcX, featX []string
	if sel.activeFeatures {
		upX, pcX = assignmentColumns, []string{packagecontent.FieldLimit}
		featX = []string{feature.FieldKey, feature.FieldName, feature.FieldKind}
	}
	return meColumns{
		up:   upTable.pick(sel.fields["UserPackage"], upX...),
		pkg:  pkgTable.pick(sel.fields["Package"]),
		pc:   pcTable.pick(sel.fields["PackageContent"], pcX...),
		feat: featTable.pick(sel.fields["Feature"], featX...),
		sess: sessTable.pick(sel.fields["UserSession"]),
	}
}

// meColumns are the columns loadMe reads of each table.
type meColumns struct{ up, pkg, pc, feat, sess []string }

// meStatements are the statements of loadMe in one dialect, for one
// choice of columns.
type meStatements struct {
	packages, contents, sessions string
	upCols, pkgCols              []string
	pcCols, featCols, sessCols   []string
}

// meSQL holds the statements built, by dialect and columns. Selections
// choose among a bounded but large number of column sets: it is emptied
// when it holds maxMeStatements.
var meSQL struct {
	sync.Mutex
	m map[string]*meStatements
}

const maxMeStatements = 256

func meStatementsFor(dialect string, cols meColumns) *meStatements {
	key := strings.Join([]string{dialect, strings.Join(cols.up, ","), strings.Join(cols.pkg, ","),
		strings.Join(cols.pc, ","), strings.Join(cols.feat, ","), strings.Join(cols.sess, ",")}, "|")
	meSQL.Lock()
	st := meSQL.m[key]
	meSQL.Unlock()
	if st != nil {
		return st
	}
	st = &meStatements{upCols: cols.up, pkgCols: cols.pkg, pcCols: cols.pc, featCols: cols.feat, sessCols: cols.sess}
	b := sql.Dialect(dialect)
	up, p := sql.Table(userpackage.Table).As("up"), sql.Table(pkg.Table).As("p")
	st.packages, _ = b.Select(append(up.Columns(st.upCols...), p.Columns(st.pkgCols...)...)...).
		From(up).Join(p).On(up.C(userpackage.FieldPackageID), p.C(pkg.FieldID)).
		Where(sql.EQ(up.C(userpackage.FieldUserID), db.Param(0))).
		OrderBy(up.C(userpackage.FieldID)).
		Query()
	pc, f, held := sql.Table(packagecontent.Table).As("pc"), sql.Table(feature.Table).As("f"), sql.Table(userpackage.Table)
	st.contents, _ = b.Select(append(pc.Columns(st.pcCols...), f.Columns(st.featCols...)...)...).
		From(pc).Join(f).On(pc.C(packagecontent.FieldFeatureID), f.C(feature.FieldID)).
		Where(sql.In(pc.C(packagecontent.FieldPackageID),
			sql.Dialect(dialect).Select(held.C(userpackage.FieldPackageID)).From(held).Where(sql.EQ(held.C(userpackage.FieldUserID), db.Param(0))))).
		OrderBy(pc.C(packagecontent.FieldID)).
		Query()
	s := sql.Table(usersession.Table)
	st.sessions, _ = b.Select(s.Columns(st.sessCols...)...).From(s).
		Where(sql.EQ(s.C(usersession.FieldUserID), db.Param(0))).
		OrderBy(s.C(usersession.FieldID)).
		Query()
	meSQL.Lock()
	if meSQL.m == nil || len(meSQL.m) >= maxMeStatements {
		meSQL.m = map[string]*meStatements{}
	}
	meSQL.m[key] = st
	meSQL.Unlock()
	return st
}

// loadMe reads what sel asks for of u's tree and loads it into u's edges,
// under every alias the selection uses, as eager-loading would.
func loadMe(ctx context.Context, c *ent.Client, u *ent.User, sel *selection) error {
	needPackages := sel.activeFeatures || sel.asks("User", "packages")
	needContents := sel.activeFeatures || sel.asks("Package", "contents")
	needSessions := sel.asks("User", "sessions")
	if !needPackages && !needContents && !needSessions {
		return nil
	}
	st := meStatementsFor(c.Dialect(), sel.columns())
	if needPackages || needContents {
		ups, pkgs, err := readPackages(ctx, c, st, u.ID)
		if err != nil {
			return err
		}
		for _, up := range ups {
			up.Edges.SetUser(u)
		}
		setUserPackages(u, ups, sel)
		if needContents && len(pkgs) > 0 {
			if err := readContents(ctx, c, st, u.ID, pkgs, sel); err != nil {
				return err
			}
		}
	}
	if needSessions {
		var ss []*ent.UserSession
		scan := c.UserSession.Scanner(st.sessCols...)
		err := c.ReadRows(ctx, st.sessions, []any{u.ID}, func(rows *sql.Rows) error {
			for rows.Next() {
				d, err := scan.Dest()
				if err != nil {
					return err
				}
				if err := rows.Scan(d...); err != nil {
					return err
				}
				s, err := scan.Node()
				if err != nil {
					return err
				}
				s.Edges.SetUser(u)
				ss = append(ss, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		u.Edges.SetSessions(ss)
		for _, a := range sel.aliases[edgeKey{"User", "sessions"}] {
			u.SetNamedSessions(a, ss)
		}
	}
	return nil
}

func setUserPackages(u *ent.User, ups []*ent.UserPackage, sel *selection) {
	u.Edges.SetPackages(ups)
	for _, a := range sel.aliases[edgeKey{"User", "packages"}] {
		u.SetNamedPackages(a, ups)
	}
}

// readPackages reads the user's assignments with their packages (one node
// per package, shared by its assignments).
func readPackages(ctx context.Context, c *ent.Client, st *meStatements, userID int) ([]*ent.UserPackage, map[int]*ent.Pkg, error) {
	var ups []*ent.UserPackage
	pkgs := map[int]*ent.Pkg{}
	us, ps := c.UserPackage.Scanner(st.upCols...), c.Pkg.Scanner(st.pkgCols...)
	err := c.ReadRows(ctx, st.packages, []any{userID}, func(rows *sql.Rows) error {
		for rows.Next() {
			ud, err := us.Dest()
			if err != nil {
				return err
			}
			pd, err := ps.Dest()
			if err != nil {
				return err
			}
			if err := rows.Scan(append(ud, pd...)...); err != nil {
				return err
			}
			up, err := us.Node()
			if err != nil {
				return err
			}
			p, err := ps.Node()
			if err != nil {
				return err
			}
			if seen, ok := pkgs[p.ID]; ok {
				p = seen
			} else {
				pkgs[p.ID] = p
			}
			up.Edges.SetPackage(p)
			ups = append(ups, up)
		}
		return nil
	})
	return ups, pkgs, err
}

// readContents reads the contents of the user's packages with their
// features into pkgs.
func readContents(ctx context.Context, c *ent.Client, st *meStatements, userID int, pkgs map[int]*ent.Pkg, sel *selection) error {
	contents := make(map[int][]*ent.PackageContent, len(pkgs))
	features := map[int]*ent.Feature{}
	cs, fs := c.PackageContent.Scanner(st.pcCols...), c.Feature.Scanner(st.featCols...)
	err := c.ReadRows(ctx, st.contents, []any{userID}, func(rows *sql.Rows) error {
		for rows.Next() {
			cd, err := cs.Dest()
			if err != nil {
				return err
			}
			fd, err := fs.Dest()
			if err != nil {
				return err
			}
			if err := rows.Scan(append(cd, fd...)...); err != nil {
				return err
			}
			pc, err := cs.Node()
			if err != nil {
				return err
			}
			f, err := fs.Node()
			if err != nil {
				return err
			}
			if seen, ok := features[f.ID]; ok {
				f = seen
			} else {
				features[f.ID] = f
			}
			p := pkgs[pc.PackageID]
			if p == nil {
				// A package assigned since the assignments were read.
				continue
			}
			pc.Edges.SetFeature(f)
			pc.Edges.SetPackage(p)
			contents[p.ID] = append(contents[p.ID], pc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	aliases := sel.aliases[edgeKey{"Package", "contents"}]
	for id, p := range pkgs {
		list := contents[id]
		if list == nil {
			list = []*ent.PackageContent{}
		}
		p.Edges.SetContents(list)
		for _, a := range aliases {
			p.SetNamedContents(a, list)
		}
	}
	return nil
}

// treeLoaded returns u's assignments when they were read with their
// packages, contents and features (as loadMe does), for active features
// to be worked out without reading them again.
func treeLoaded(u *ent.User) ([]*ent.UserPackage, bool) {
	ups, err := u.Edges.PackagesOrErr()
	if err != nil {
		return nil, false
	}
	for _, up := range ups {
		p, err := up.Edges.PackageOrErr()
		if err != nil {
			return nil, false
		}
		cs, err := p.Edges.ContentsOrErr()
		if err != nil {
			return nil, false
		}
		for _, c := range cs {
			if _, err := c.Edges.FeatureOrErr(); err != nil {
				return nil, false
			}
		}
	}
	return ups, true
}

// activeFeatures is the resolver of User.activeFeatures.
func (r *userResolver) activeFeatures(ctx context.Context, u *ent.User) ([]*service.ActiveFeature, error) {
	var fs []service.ActiveFeature
	if ups, ok := treeLoaded(u); ok {
		fs = service.ActiveFeaturesOf(ups, r.Service.Now())
	} else {
		var err error
		if fs, err = r.Service.ActiveFeatures(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	out := make([]*service.ActiveFeature, len(fs))
	for i := range fs {
		out[i] = &fs[i]
	}
	return out, nil
}
