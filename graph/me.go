package graph

import (
	"context"
	"slices"
	"sync"

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
// features, and sessions; each only when the selection asks for it. The
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
	aliases        map[edgeKey][]string
	activeFeatures bool
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
	s := &selection{aliases: map[edgeKey][]string{}}
	oc := graphql.GetOperationContext(ctx)
	var walk func(typ string, set ast.SelectionSet, depth int)
	walk = func(typ string, set ast.SelectionSet, depth int) {
		if depth > 32 {
			return
		}
		for _, f := range graphql.CollectFields(oc, set, []string{typ, "Node"}) {
			if typ == "User" && f.Name == "activeFeatures" {
				s.activeFeatures = true
			}
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

// meStatements are the statements of loadMe in one dialect.
type meStatements struct {
	packages, contents, sessions string
	upCols, pkgCols              []string
	pcCols, featCols, sessCols   []string
}

var meSQL sync.Map // dialect → *meStatements

func meStatementsFor(dialect string) *meStatements {
	if st, ok := meSQL.Load(dialect); ok {
		return st.(*meStatements)
	}
	st := &meStatements{
		upCols: userpackage.Columns, pkgCols: pkg.Columns,
		pcCols: packagecontent.Columns, featCols: feature.Columns,
		sessCols: usersession.Columns,
	}
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
	meSQL.Store(dialect, st)
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
	st := meStatementsFor(c.Dialect())
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
