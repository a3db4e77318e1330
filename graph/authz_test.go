package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
)

// Viewers of the authorization matrix.
const (
	anonymous = "anonymous"
	asUser    = "user"
	asOther   = "another user"
	asAdmin   = "admin"
	disabled  = "disabled user"
	expired   = "expired token"
	revoked   = "revoked token"
)

var viewers = []string{anonymous, asUser, asOther, asAdmin, disabled, expired, revoked}

// access says who may call a field.
type access int

const (
	public access = iota
	signedIn
	adminOnly
)

// matrixOp is one query or mutation. vars builds fresh targets (owned by
// alice where an id is needed) so every row starts from the same state.
type matrixOp struct {
	name  string
	who   access
	query string
	vars  func(w *world) map[string]any
	// other is the code the other user gets, when it differs from what the
	// user gets (the target belongs to alice).
	other string
	// endsSessions: the operation ends the viewer's session, so the
	// viewer's shared token is signed in again after it.
	endsSessions bool
}

func matrixOps() []matrixOp {
	fresh := 0
	next := func(prefix string) string { fresh++; return fmt.Sprintf("%s%d", prefix, fresh) }
	newUser := func(w *world) string {
		return id(w.CreateUser(next("target"), "target-password", user.RoleUSER).ID)
	}
	newPkg := func(w *world) string {
		r := w.MustDo(w.token("root", adminPW), `mutation($n:String!){createPackage(input:{name:$n,days:3,contents:[{name:"c",featureKey: "moe_gatherer"}]}){id contents{id}}}`,
			map[string]any{"n": next("pkg")})
		var d struct{ CreatePackage struct{ ID string } }
		r.Decode(w.t, &d)
		return d.CreatePackage.ID
	}
	newContent := func(w *world) string {
		r := w.MustDo(w.token("root", adminPW), `query($id:ID!){node(id:$id){... on Package{contents{id}}}}`, map[string]any{"id": newPkg(w)})
		var d struct {
			Node struct{ Contents []struct{ ID string } }
		}
		r.Decode(w.t, &d)
		return d.Node.Contents[0].ID
	}
	newFeature := func(w *world) string {
		f, err := w.App.Service.CreateFeature(sys(), service.CreateFeatureInput{Key: next("feature_"), Name: "F", Kind: feature.KindSWITCH})
		if err != nil {
			w.t.Fatal(err)
		}
		return id(f.ID)
	}
	aliceSession := func(w *world) string {
		p, err := w.App.Auth.Login(context.Background(), "alice", alicePW, auth.ClientInfo{})
		if err != nil {
			w.t.Fatal(err)
		}
		return id(p.Session.ID)
	}
	none := func(*world) map[string]any { return nil }
	return []matrixOp{
		{name: "login", who: public, query: `mutation{login(input:{username:"alice",password:"alice-password"}){token user{username packages{package{name}}}}}`, vars: none},
		{name: "me", who: signedIn, query: `{me{id username packages{active package{name contents{feature{key}}}} sessions{id} activeFeatures{key limit}}}`, vars: none},
		{name: "checkAccess", who: signedIn, query: `{checkAccess(feature: "moe_gatherer"){granted code}}`, vars: none},
		{name: "node (alice's assignment)", who: signedIn, query: `query($id:ID!){node(id:$id){id ... on UserPackage{expiresAt}}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": id(w.aliceUP.ID)} }, other: "NOT_FOUND"},
		{name: "nodes (alice and her package)", who: signedIn, query: `query($ids:[ID!]!){nodes(ids:$ids){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"ids": []string{id(w.alice.ID), id(w.pro.ID)}} }, other: "NOT_FOUND"},
		{name: "node (a feature of alice's package)", who: signedIn, query: `query($id:ID!){node(id:$id){id ... on Feature{key kind}}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": featureID(w, "moe_gatherer")} }, other: "NOT_FOUND"},
		{name: "features", who: adminOnly, query: `{features(first:10){totalCount edges{node{key}}}}`, vars: none},
		{name: "feature", who: adminOnly, query: `{feature(key:"moe_gatherer"){id}}`, vars: none},
		{name: "createFeature", who: adminOnly, query: `mutation($k:String!){createFeature(input:{key:$k,name:"x",kind:LIMIT}){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"k": next("created_")} }},
		{name: "updateFeature", who: adminOnly, query: `mutation($id:ID!){updateFeature(id:$id,input:{name:"y"}){name}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newFeature(w)} }},
		{name: "deleteFeature", who: adminOnly, query: `mutation($id:ID!){deleteFeature(id:$id)}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newFeature(w)} }},
		{name: "users", who: adminOnly, query: `{users(first:10){totalCount edges{node{username}}}}`, vars: none},
		{name: "packages", who: adminOnly, query: `{packages{totalCount}}`, vars: none},
		{name: "packageContents", who: adminOnly, query: `{packageContents{totalCount}}`, vars: none},
		{name: "userPackages", who: adminOnly, query: `{userPackages{totalCount}}`, vars: none},
		{name: "userSessions", who: adminOnly, query: `{userSessions{totalCount}}`, vars: none},
		{name: "user", who: adminOnly, query: `{user(username:"alice"){id}}`, vars: none},
		{name: "package", who: adminOnly, query: `{package(name:"Pro"){id}}`, vars: none},
		{name: "Package.userPackages", who: adminOnly, query: `{me{packages{package{userPackages{id}}}}}`, vars: none},
		{name: "logout", who: signedIn, query: `mutation{logout}`, vars: none, endsSessions: true},
		{name: "refreshSession", who: signedIn, query: `mutation{refreshSession{id expiresAt}}`, vars: none},
		{name: "logoutEverywhere", who: signedIn, query: `mutation{logoutEverywhere}`, vars: none, endsSessions: true},
		{name: "changePassword", who: signedIn, query: `mutation($pw:String!){changePassword(currentPassword:$pw,newPassword:$pw)}`,
			vars: func(w *world) map[string]any { return map[string]any{"pw": "SEE-VIEWER"} }},
		{name: "revokeSession (alice's)", who: signedIn, query: `mutation($id:ID!){revokeSession(id:$id){id active}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": aliceSession(w)} }, other: "NOT_FOUND"},
		{name: "createUser", who: adminOnly, query: `mutation($n:String!){createUser(input:{username:$n,password:"long-enough"}){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"n": next("new")} }},
		{name: "updateUser", who: adminOnly, query: `mutation($id:ID!){updateUser(id:$id,input:{role:ADMIN}){role}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newUser(w)} }},
		{name: "deleteUser", who: adminOnly, query: `mutation($id:ID!){deleteUser(id:$id)}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newUser(w)} }},
		{name: "createPackage", who: adminOnly, query: `mutation($n:String!){createPackage(input:{name:$n,days:1}){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"n": next("created")} }},
		{name: "updatePackage", who: adminOnly, query: `mutation($id:ID!){updatePackage(id:$id,input:{days:9}){days}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newPkg(w)} }},
		{name: "deletePackage", who: adminOnly, query: `mutation($id:ID!){deletePackage(id:$id)}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newPkg(w)} }},
		{name: "createPackageContent", who: adminOnly, query: `mutation($id:ID!){createPackageContent(input:{packageID:$id,name:"x",featureKey: "cloud_sync"}){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newPkg(w)} }},
		{name: "updatePackageContent", who: adminOnly, query: `mutation($id:ID!){updatePackageContent(id:$id,input:{name:"y"}){name}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newContent(w)} }},
		{name: "deletePackageContent", who: adminOnly, query: `mutation($id:ID!){deletePackageContent(id:$id)}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": newContent(w)} }},
		{name: "assignPackage", who: adminOnly, query: `mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u,packageID:$p}){id}}`,
			vars: func(w *world) map[string]any { return map[string]any{"u": id(w.alice.ID), "p": id(w.basic.ID)} }},
		{name: "updateUserPackage", who: adminOnly, query: `mutation($id:ID!){updateUserPackage(id:$id,input:{extendDays:1}){expiresAt}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": id(w.aliceUP.ID)} }},
		{name: "deleteUserPackage", who: adminOnly, query: `mutation($id:ID!){deleteUserPackage(id:$id)}`,
			vars: func(w *world) map[string]any {
				up, err := w.App.Service.AssignPackage(sys(), service.AssignPackageInput{UserID: w.alice.ID, PackageID: w.basic.ID})
				if err != nil {
					w.t.Fatal(err)
				}
				return map[string]any{"id": id(up.ID)}
			}},
		{name: "issueSession", who: adminOnly, query: `mutation($id:ID!){issueSession(input:{userID:$id}){token}}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": id(w.alice.ID)} }},
		{name: "deleteUserSession", who: adminOnly, query: `mutation($id:ID!){deleteUserSession(id:$id)}`,
			vars: func(w *world) map[string]any { return map[string]any{"id": aliceSession(w)} }},
	}
}

// deadTokens returns tokens of a disabled user, an expired session and a
// revoked session.
func deadTokens(t *testing.T, w *world) map[string]string {
	carol := w.CreateUser("carol", "carol-password", user.RoleADMIN)
	disabledTok := w.tokenFor("carol", "carol-password")
	w.App.DB.Ent.User.UpdateOne(carol).SetDisabled(true).ExecX(sys())

	dave := w.CreateUser("dave", "dave-password", user.RoleADMIN)
	expiredTok := "gate_" + strings.Repeat("E", 43)
	past := time.Now().Add(-time.Minute)
	w.App.DB.Ent.UserSession.Create().SetUserID(dave.ID).SetTokenHash(auth.HashToken(expiredTok)).
		SetCreatedAt(past.Add(-25 * time.Hour)).SetLastSeenAt(past.Add(-24 * time.Hour)).
		SetExpiresAt(past).SetMaxExpiresAt(past.Add(29 * 24 * time.Hour)).ExecX(sys())

	w.CreateUser("erin", "erin-password", user.RoleADMIN)
	revokedTok := w.tokenFor("erin", "erin-password")
	if _, err := w.App.Auth.RevokeSession(sys(), w.sessionID(revokedTok)); err != nil {
		t.Fatal(err)
	}
	return map[string]string{disabled: disabledTok, expired: expiredTok, revoked: revokedTok}
}

// TestAuthorizationMatrix calls every operation as every viewer. The
// signed-in viewers share one token each (w.token signs in on first use,
// so any one case runs alone with -run), signed in again only after an
// operation that ends sessions; a token that died unnoticed fails the
// cases that need it, it never makes one pass.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t, nil)
	dead := deadTokens(t, w)
	for _, op := range matrixOps() {
		for _, who := range viewers {
			t.Run(op.name+"/"+who, func(t *testing.T) {
				var token, username, pw string
				switch who {
				case asUser:
					username, pw = "alice", alicePW
				case asOther:
					username, pw = "bob", bobPW
				case asAdmin:
					username, pw = "root", adminPW
				case anonymous:
				default:
					token = dead[who]
				}
				if username != "" {
					token = w.token(username, pw)
					if op.endsSessions {
						defer w.forgetToken(username)
					}
				}
				vars := op.vars(w)
				if vars["pw"] == "SEE-VIEWER" {
					vars["pw"] = pw
					if pw == "" {
						vars["pw"] = "whatever-password"
					}
				}
				r := w.Do(token, op.query, vars)
				want := expectation(op, who)
				if want == "" {
					if len(r.Errors) > 0 {
						t.Fatalf("want success, got %+v", r.Errors)
					}
					return
				}
				wantCode(t, r, want)
				if strings.Contains(string(r.Data), "alice-password") {
					t.Fatal("a password leaked")
				}
			})
		}
	}
}

func expectation(op matrixOp, who string) string {
	if op.who == public {
		return ""
	}
	switch who {
	case anonymous, disabled, expired, revoked:
		return "UNAUTHENTICATED"
	case asAdmin:
		return ""
	}
	if op.who == adminOnly {
		return "FORBIDDEN"
	}
	if who == asOther {
		return op.other
	}
	return ""
}

// featureID is the id of the feature with key.
func featureID(w *world, key string) string {
	return id(w.App.DB.Ent.Feature.Query().Where(feature.Key(key)).OnlyIDX(sys()))
}
