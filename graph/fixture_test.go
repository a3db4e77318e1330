package graph_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// world is a server with a few users, packages and sessions.
type world struct {
	*apptest.Server
	t            *testing.T
	admin, alice *ent.User
	bob          *ent.User
	pro, basic   *ent.Pkg // alice holds pro, bob holds basic
	aliceUP      *ent.UserPackage
	bobUP        *ent.UserPackage
	// tokens holds a token per username for token.
	tokens map[string]string
}

const (
	adminPW = "admin-password"
	alicePW = "alice-password"
	bobPW   = "bob-password"
)

func sys() context.Context { return viewer.System(context.Background()) }

func newWorld(t *testing.T, adjust func(*config.Config)) *world {
	t.Helper()
	s := apptest.Start(t, adjust, app.Options{})
	w := &world{Server: s, t: t}
	w.admin = s.CreateUser("root", adminPW, user.RoleADMIN)
	w.alice = s.CreateUser("alice", alicePW, user.RoleUSER)
	w.bob = s.CreateUser("bob", bobPW, user.RoleUSER)
	svc := s.App.Service
	seedFeatures(t, svc)
	var err error
	w.pro, err = svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Pro", Days: 30, Contents: []*service.PackageContentInput{
		{Name: "Gatherer", FeatureKey: "moe_gatherer"},
		{Name: "Sync", FeatureKey: "cloud_sync"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.basic, err = svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Basic", Days: 7, Contents: []*service.PackageContentInput{
		{Name: "Auto", FeatureKey: "auto_gather"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w.aliceUP, err = svc.AssignPackage(sys(), service.AssignPackageInput{UserID: w.alice.ID, PackageID: w.pro.ID}); err != nil {
		t.Fatal(err)
	}
	if w.bobUP, err = svc.AssignPackage(sys(), service.AssignPackageInput{UserID: w.bob.ID, PackageID: w.basic.ID}); err != nil {
		t.Fatal(err)
	}
	return w
}

// testFeatures are the features every test world starts with.
var testFeatures = []service.CreateFeatureInput{
	{Key: "moe_gatherer", Name: "Moe gatherer", Kind: feature.KindSWITCH},
	{Key: "cloud_sync", Name: "Cloud sync", Kind: feature.KindSWITCH},
	{Key: "auto_gather", Name: "Auto gather", Kind: feature.KindSWITCH},
	{Key: "priority_support", Name: "Priority support", Kind: feature.KindSWITCH},
	{Key: "projects", Name: "Projects", Kind: feature.KindLIMIT},
}

// seedFeatures defines testFeatures.
func seedFeatures(t testing.TB, svc *service.Service) {
	t.Helper()
	for _, in := range testFeatures {
		if _, err := svc.CreateFeature(sys(), in); err != nil {
			t.Fatalf("create feature %s: %v", in.Key, err)
		}
	}
}

func id(n int) string { return strconv.Itoa(n) }

// tokenFor signs in as username and returns the token.
func (w *world) tokenFor(username, pw string) string { return w.Login(username, pw) }

// token returns username's shared token, signing in the first time it is
// asked for (and after forgetToken). Tests whose subtests share a world
// use it instead of signing in per subtest.
func (w *world) token(username, pw string) string {
	if tok, ok := w.tokens[username]; ok {
		return tok
	}
	if w.tokens == nil {
		w.tokens = map[string]string{}
	}
	tok := w.tokenFor(username, pw)
	w.tokens[username] = tok
	return tok
}

// forgetToken drops username's shared token (after it was signed out).
func (w *world) forgetToken(username string) { delete(w.tokens, username) }

// sessionID returns the id of the session behind a token.
func (w *world) sessionID(token string) int {
	v, err := w.App.Auth.Authenticate(context.Background(), token)
	if err != nil {
		w.t.Fatalf("token does not work: %v", err)
	}
	return v.SessionID
}

// mustData fails unless r has no errors.
func mustData(t *testing.T, r *apptest.Response) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
}

// wantCode fails unless r's first error has code.
func wantCode(t *testing.T, r *apptest.Response, code string) {
	t.Helper()
	if r.Code() != code {
		t.Fatalf("want %s, got errors %+v data %s", code, r.Errors, r.Data)
	}
}

// field returns the first error's extensions.field.
func field(r *apptest.Response) string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func authClient() auth.ClientInfo { return auth.ClientInfo{IP: "192.0.2.10", UserAgent: "test"} }
