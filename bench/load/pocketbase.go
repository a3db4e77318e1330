package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"gatehouse/bench/internal/seed"
	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/access"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// PocketBase, the comparator of W2 and W5 (-pocketbase): bench/pocketbase,
// a module of its own, built into the run's directory, seeded with the
// data set exported from Gatehouse's seeded database, and run as a child.

// pbSuperuser is the superuser the comparator is seeded with; W2 and W5
// run as it, as Gatehouse's run as the admin.
const (
	pbSuperuserEmail = "bench@gatehouse.invalid"
	pbSuperuserPass  = seed.Password
)

// pbID is the PocketBase id of a Gatehouse record (as bench/pocketbase
// makes them): a letter of the kind and 14 digits.
func pbID(kind byte, id int) string { return fmt.Sprintf("%c%014d", kind, id) }

// gatehouseID is the Gatehouse id (as GraphQL gives it) of a PocketBase id.
func gatehouseID(id string) string {
	if len(id) != 15 {
		return "?" + id
	}
	n, err := strconv.Atoi(id[1:])
	if err != nil {
		return "?" + id
	}
	return strconv.Itoa(n)
}

// pbDataset is the data set as bench/pocketbase reads it.
type pbDataset struct {
	Features    []pbFeature    `json:"features"`
	Packages    []pbPackage    `json:"packages"`
	Contents    []pbContent    `json:"contents"`
	Users       []pbUser       `json:"users"`
	Assignments []pbAssignment `json:"assignments"`
	Sessions    []pbSession    `json:"sessions"`
}

type pbFeature struct {
	ID   int    `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type pbPackage struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Detail    string `json:"detail"`
	Days      int    `json:"days"`
	GraceDays int    `json:"grace_days"`
}

type pbContent struct {
	ID      int    `json:"id"`
	Package int    `json:"package"`
	Feature int    `json:"feature"`
	Name    string `json:"name"`
	Limit   *int   `json:"limit"`
}

type pbUser struct {
	ID           int    `json:"id"`
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
	Role         string `json:"role"`
	Disabled     bool   `json:"disabled"`
}

type pbAssignment struct {
	ID            int        `json:"id"`
	User          int        `json:"user"`
	Package       int        `json:"package"`
	Starts        time.Time  `json:"starts"`
	Expires       time.Time  `json:"expires"`
	GraceEnds     time.Time  `json:"grace_ends"`
	Suspended     *time.Time `json:"suspended"`
	SuspendReason string     `json:"suspend_reason"`
}

type pbSession struct {
	ID         int        `json:"id"`
	User       int        `json:"user"`
	TokenHash  string     `json:"token_hash"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeen   time.Time  `json:"last_seen"`
	Expires    time.Time  `json:"expires"`
	MaxExpires time.Time  `json:"max_expires"`
	Revoked    *time.Time `json:"revoked"`
	IP         string     `json:"ip"`
	UserAgent  string     `json:"user_agent"`
}

// exportDataset reads the seeded data set from Gatehouse's database,
// without -deep-users' bulk users (W2's PocketBase page is page 1), in the
// order of Gatehouse's ids.
func exportDataset(ctx context.Context, driver, dsn string) (*pbDataset, error) {
	d, err := db.Open(ctx, db.Options{Driver: driver, DSN: dsn, MaxOpenConns: 2})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ctx = viewer.System(ctx)
	c := d.Ent
	var out pbDataset
	fs, err := c.Feature.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out.Features = append(out.Features, pbFeature{ID: f.ID, Key: f.Key, Name: f.Name, Kind: string(f.Kind)})
	}
	ps, err := c.Pkg.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out.Packages = append(out.Packages, pbPackage{ID: p.ID, Name: p.Name, Detail: p.Detail, Days: p.Days, GraceDays: p.GraceDays})
	}
	cs, err := c.PackageContent.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, x := range cs {
		out.Contents = append(out.Contents, pbContent{ID: x.ID, Package: x.PackageID, Feature: x.FeatureID, Name: x.Name, Limit: x.Limit})
	}
	us, err := c.User.Query().Where(user.Not(user.UsernameHasPrefix("deep"))).Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	keep := map[int]bool{}
	for _, u := range us {
		keep[u.ID] = true
		out.Users = append(out.Users, pbUser{ID: u.ID, Username: u.Username, PasswordHash: u.PasswordHash, Role: string(u.Role), Disabled: u.Disabled})
	}
	ups, err := c.UserPackage.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range ups {
		if !keep[a.UserID] {
			continue
		}
		x := pbAssignment{ID: a.ID, User: a.UserID, Package: a.PackageID, Starts: a.StartsAt.UTC(), Expires: a.ExpiresAt.UTC(),
			GraceEnds: a.GraceEndsAt.UTC(), Suspended: a.SuspendedAt}
		if a.SuspendReason != nil {
			x.SuspendReason = *a.SuspendReason
		}
		out.Assignments = append(out.Assignments, x)
	}
	ss, err := c.UserSession.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if !keep[s.UserID] {
			continue
		}
		out.Sessions = append(out.Sessions, pbSession{ID: s.ID, User: s.UserID, TokenHash: s.TokenHash, CreatedAt: s.CreatedAt.UTC(),
			LastSeen: s.LastSeenAt.UTC(), Expires: s.ExpiresAt.UTC(), MaxExpires: s.MaxExpiresAt.UTC(), Revoked: s.RevokedAt, IP: s.IP, UserAgent: s.UserAgent})
	}
	return &out, nil
}

// buildPocketBase builds bench/pocketbase into bin. Its go.mod asks for a
// newer Go than Gatehouse's may be: unless GOTOOLCHAIN is set, the build
// may fetch that toolchain (GOTOOLCHAIN=auto).
func buildPocketBase(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-C", filepath.Join(root, "bench", "pocketbase"), "-o", bin, ".")
	cmd.Env = os.Environ()
	if os.Getenv("GOTOOLCHAIN") == "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN=auto")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -C bench/pocketbase: %v\n%s", err, out)
	}
	return nil
}

// pocketBase is the comparator, built, seeded and started.
type pocketBase struct {
	child  *child
	token  string // the superuser's
	w2Path string // W2's request (pbW2Path)
}

func (p *pocketBase) stop() {
	if p != nil {
		p.child.stop()
	}
}

// startPocketBase builds the comparator into dir, seeds it with the data
// set of Gatehouse's database, starts it and signs the superuser in.
func startPocketBase(ctx context.Context, root, dir, driver, dsn string, w2Fields bool) (*pocketBase, error) {
	bin := filepath.Join(dir, "pocketbase")
	if err := buildPocketBase(ctx, root, bin); err != nil {
		return nil, err
	}
	ds, err := exportDataset(ctx, driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("export the data set: %w", err)
	}
	data := filepath.Join(dir, "pocketbase-data.json")
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(data, b, 0o600); err != nil {
		return nil, err
	}
	pbDir := filepath.Join(dir, "pb_data")
	cmd := exec.CommandContext(ctx, bin, "seed", "--dir", pbDir, "--data", data, "--superuser", pbSuperuserEmail+":"+pbSuperuserPass)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("seed PocketBase: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c, err := startChild("pocketbase", dir, bin, []string{"serve", "--http", addr, "--dir", pbDir}, nil, addr, "/api/health")
	if err != nil {
		return nil, err
	}
	tok, err := pbSignIn(c.url)
	if err != nil {
		c.stop()
		return nil, err
	}
	return &pocketBase{child: c, token: tok, w2Path: pbW2Path(w2Fields)}, nil
}

// pbSignIn signs the superuser in and returns its token.
func pbSignIn(base string) (string, error) {
	body, _ := json.Marshal(map[string]string{"identity": pbSuperuserEmail, "password": pbSuperuserPass})
	req, err := http.NewRequest(http.MethodPost, base+"/api/collections/_superusers/auth-with-password", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	b, err := do(req)
	if err != nil {
		return "", fmt.Errorf("PocketBase superuser sign-in: %w", err)
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Token == "" {
		return "", fmt.Errorf("PocketBase superuser sign-in: no token in %.200s", b)
	}
	return r.Token, nil
}

// pbW2Path is W2 against PocketBase: a page of 100 app users in Gatehouse's
// order, each with its assignments, their packages, the packages'
// contents and their features, and its sessions, by expanding the
// back-relations. With fields, only the fields W2 asks for (and those its
// computed `active` flags are made of: the client computes them); else
// every field of each record, which costs PocketBase less CPU: it picks
// fields by encoding the answer to JSON, decoding it and encoding the
// picked fields again (a page of W2 took about 1.7× the CPU with them).
func pbW2Path(withFields bool) string {
	const up, pkg, ct, ss = "expand.user_packages_via_user.", "expand.package.", "expand.package_contents_via_package.", "expand.user_sessions_via_user."
	fields := []string{"id", "username"}
	for _, f := range []string{"id", "starts", "expires", "grace_ends", "suspended"} {
		fields = append(fields, up+f)
	}
	for _, f := range []string{"id", "name"} {
		fields = append(fields, up+pkg+f)
	}
	for _, f := range []string{"id", "limit"} {
		fields = append(fields, up+pkg+ct+f)
	}
	fields = append(fields, up+pkg+ct+"expand.feature.key")
	for _, f := range []string{"id", "expires", "max_expires", "revoked"} {
		fields = append(fields, ss+f)
	}
	q := url.Values{
		"perPage": {"100"},
		"sort":    {"@rowid"},
		"expand":  {"user_packages_via_user.package.package_contents_via_package.feature,user_sessions_via_user"},
	}
	if withFields {
		q.Set("fields", strings.Join(fields, ","))
	}
	return "/api/collections/app_users/records?" + q.Encode()
}

func pbHeader(token string) http.Header {
	return http.Header{"Authorization": {token}, "Content-Type": {"application/json"}}
}

// pbW2Targets: W2's page against PocketBase.
func pbW2Targets(s server, p *pocketBase) vegeta.Targeter {
	return roundRobin([]vegeta.Target{{Method: http.MethodGet, URL: s.url + p.w2Path, Header: pbHeader(p.token)}})
}

// pbW5Targets: W5 against PocketBase, the record insert the issue
// compared: an assignment (user, package, starts now, expires in a day)
// of a random package to a random write user, as the superuser.
func pbW5Targets(s server, d *seed.Data, p *pocketBase) vegeta.Targeter {
	h := pbHeader(p.token)
	u := s.url + "/api/collections/user_packages/records"
	return func(t *vegeta.Target) error {
		now := time.Now().UTC()
		body, _ := json.Marshal(map[string]string{
			"user":    pbID('u', d.WriteUsers[rand.IntN(len(d.WriteUsers))]),
			"package": pbID('p', d.Packages[rand.IntN(len(d.Packages))]),
			"starts":  now.Format(time.RFC3339),
			"expires": now.Add(24 * time.Hour).Format(time.RFC3339),
		})
		*t = vegeta.Target{Method: http.MethodPost, URL: u, Header: h, Body: body}
		return nil
	}
}

// w2Page is a W2 page in a form both servers' answers reduce to: ids are
// Gatehouse's, instants Unix seconds, `active` as Gatehouse defines it.
type w2Page struct {
	Total int      `json:"total"`
	Users []w2User `json:"users"`
}

type w2User struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Packages []w2Asg  `json:"packages"`
	Sessions []w2Sess `json:"sessions"`
}

type w2Asg struct {
	ID      string `json:"id"`
	Expires int64  `json:"expires"`
	Active  bool   `json:"active"`
	Package struct {
		ID       string  `json:"id"`
		Name     string  `json:"name"`
		Contents []w2Cnt `json:"contents"`
	} `json:"package"`
}

type w2Cnt struct {
	ID      string `json:"id"`
	Limit   *int   `json:"limit"`
	Feature string `json:"feature"`
}

type w2Sess struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
}

// gatehouseW2Page reduces Gatehouse's answer to W2.
func gatehouseW2Page(b []byte) (*w2Page, error) {
	var r struct {
		Data struct {
			Users struct {
				TotalCount int `json:"totalCount"`
				Edges      []struct {
					Node struct {
						ID       string `json:"id"`
						Username string `json:"username"`
						Packages []struct {
							ID        string    `json:"id"`
							ExpiresAt time.Time `json:"expiresAt"`
							Active    bool      `json:"active"`
							Package   struct {
								ID       string `json:"id"`
								Name     string `json:"name"`
								Contents []struct {
									ID      string `json:"id"`
									Limit   *int   `json:"limit"`
									Feature struct {
										Key string `json:"key"`
									} `json:"feature"`
								} `json:"contents"`
							} `json:"package"`
						} `json:"packages"`
						Sessions []struct {
							ID     string `json:"id"`
							Active bool   `json:"active"`
						} `json:"sessions"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"users"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	p := &w2Page{Total: r.Data.Users.TotalCount, Users: []w2User{}}
	for _, e := range r.Data.Users.Edges {
		n := e.Node
		u := w2User{ID: n.ID, Username: n.Username}
		for _, a := range n.Packages {
			x := w2Assignment(a.ID, a.ExpiresAt, a.Active, a.Package.ID, a.Package.Name)
			for _, c := range a.Package.Contents {
				x.Package.Contents = append(x.Package.Contents, w2Content(c.ID, c.Limit, c.Feature.Key))
			}
			u.Packages = append(u.Packages, x)
		}
		for _, s := range n.Sessions {
			u.Sessions = append(u.Sessions, w2Session(s.ID, s.Active))
		}
		p.Users = append(p.Users, u)
	}
	return p, nil
}

func w2Assignment(id string, expires time.Time, active bool, pkgID, pkgName string) w2Asg {
	var x w2Asg
	x.ID, x.Expires, x.Active = id, expires.Unix(), active
	x.Package.ID, x.Package.Name = pkgID, pkgName
	return x
}

func w2Content(id string, limit *int, feature string) w2Cnt {
	return w2Cnt{ID: id, Limit: limit, Feature: feature}
}

func w2Session(id string, active bool) w2Sess { return w2Sess{ID: id, Active: active} }

// pbTime parses PocketBase's date format ("" is the zero time).
func pbTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse("2006-01-02 15:04:05.000Z", s)
}

// pocketBaseW2Page reduces PocketBase's answer to W2, computing `active`
// from the fields as Gatehouse does (internal/access), at now.
func pocketBaseW2Page(b []byte, now time.Time) (*w2Page, error) {
	type feature struct {
		Key string `json:"key"`
	}
	type content struct {
		ID     string `json:"id"`
		Limit  *int   `json:"limit"`
		Expand struct {
			Feature feature `json:"feature"`
		} `json:"expand"`
	}
	var r struct {
		TotalItems int `json:"totalItems"`
		Items      []struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			Expand   struct {
				Assignments []struct {
					ID        string `json:"id"`
					Starts    string `json:"starts"`
					Expires   string `json:"expires"`
					GraceEnds string `json:"grace_ends"`
					Suspended string `json:"suspended"`
					Expand    struct {
						Package struct {
							ID     string `json:"id"`
							Name   string `json:"name"`
							Expand struct {
								Contents []content `json:"package_contents_via_package"`
							} `json:"expand"`
						} `json:"package"`
					} `json:"expand"`
				} `json:"user_packages_via_user"`
				Sessions []struct {
					ID         string `json:"id"`
					Expires    string `json:"expires"`
					MaxExpires string `json:"max_expires"`
					Revoked    string `json:"revoked"`
				} `json:"user_sessions_via_user"`
			} `json:"expand"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	p := &w2Page{Total: r.TotalItems, Users: []w2User{}}
	for _, it := range r.Items {
		u := w2User{ID: gatehouseID(it.ID), Username: it.Username}
		for _, a := range it.Expand.Assignments {
			var ts [3]time.Time
			for i, s := range []string{a.Starts, a.Expires, a.GraceEnds} {
				t, err := pbTime(s)
				if err != nil {
					return nil, err
				}
				ts[i] = t
			}
			grace := ts[2]
			if grace.IsZero() {
				grace = ts[1]
			}
			active := access.StateOf(access.Assignment{StartsAt: ts[0], ExpiresAt: ts[1], GraceEndsAt: grace, Suspended: a.Suspended != ""}, now).Grants()
			pk := a.Expand.Package
			x := w2Assignment(gatehouseID(a.ID), ts[1], active, gatehouseID(pk.ID), pk.Name)
			for _, c := range pk.Expand.Contents {
				// PocketBase's numbers are never null: 0 is no limit
				// (the seeded limits are all positive).
				lim := c.Limit
				if lim != nil && *lim == 0 {
					lim = nil
				}
				x.Package.Contents = append(x.Package.Contents, w2Content(gatehouseID(c.ID), lim, c.Expand.Feature.Key))
			}
			u.Packages = append(u.Packages, x)
		}
		for _, s := range it.Expand.Sessions {
			exp, err1 := pbTime(s.Expires)
			maxExp, err2 := pbTime(s.MaxExpires)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			u.Sessions = append(u.Sessions, w2Session(gatehouseID(s.ID), s.Revoked == "" && now.Before(exp) && now.Before(maxExp)))
		}
		p.Users = append(p.Users, u)
	}
	return p, nil
}

// sameW2Page checks that PocketBase answers W2's page 1 with the same
// users, assignments, packages, contents, features and sessions as
// Gatehouse (lists compared as sets; the total too unless ignoreTotal,
// when -deep-users are in Gatehouse's database only).
func sameW2Page(ghURL, adminToken string, pb *pocketBase, ignoreTotal bool) error {
	g, err := post(ghURL, adminToken, queryW2, map[string]any{"after": nil})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, pb.child.url+pb.w2Path, nil)
	if err != nil {
		return err
	}
	req.Header = pbHeader(pb.token)
	body, err := do(req)
	if err != nil {
		return err
	}
	now := time.Now()
	gp, err := gatehouseW2Page(g)
	if err != nil {
		return fmt.Errorf("Gatehouse's answer: %w", err)
	}
	pp, err := pocketBaseW2Page(body, now)
	if err != nil {
		return fmt.Errorf("PocketBase's answer: %w", err)
	}
	if len(gp.Users) == 0 {
		return errors.New("Gatehouse's page is empty")
	}
	return samePage(gp, pp, ignoreTotal)
}

// samePage compares two reduced pages, users in order, their lists as
// sets, and tells the first user that differs.
func samePage(g, p *w2Page, ignoreTotal bool) error {
	if !ignoreTotal && g.Total != p.Total {
		return fmt.Errorf("total: Gatehouse %d, PocketBase %d", g.Total, p.Total)
	}
	if len(g.Users) != len(p.Users) {
		return fmt.Errorf("users on the page: Gatehouse %d, PocketBase %d", len(g.Users), len(p.Users))
	}
	for i := range g.Users {
		a, _ := json.Marshal(g.Users[i])
		b, _ := json.Marshal(p.Users[i])
		if err := sameJSONAs(a, b, "pocketbase"); err != nil {
			return fmt.Errorf("user %d of the page: %w", i, err)
		}
	}
	return nil
}
