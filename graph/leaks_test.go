package graph_test

import (
	"strings"
	"testing"
)

// TestNoPathReachesAnotherUsersData walks the graph as alice through every
// path that could lead to bob's data.
func TestNoPathReachesAnotherUsersData(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.tokenFor("alice", alicePW)
	bobTok := w.tokenFor("bob", bobPW)
	bobSession := w.sessionID(bobTok)

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		code  string // "" = no error, but see absent
	}{
		{"node of bob", `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id(w.bob.ID)}, "NOT_FOUND"},
		{"node of bob's assignment", `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id(w.bobUP.ID)}, "NOT_FOUND"},
		{"node of bob's session", `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id(bobSession)}, "NOT_FOUND"},
		{"node of a package alice does not hold", `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": id(w.basic.ID)}, "NOT_FOUND"},
		{"node of a feature only bob's package grants", `query($id:ID!){node(id:$id){id ... on Feature{key}}}`, map[string]any{"id": featureID(w, "auto_gather")}, "NOT_FOUND"},
		{"nodes mixing her feature and bob's", `query($ids:[ID!]!){nodes(ids:$ids){id}}`, map[string]any{"ids": []string{featureID(w, "moe_gatherer"), featureID(w, "auto_gather")}}, "NOT_FOUND"},
		{"the feature catalogue", `{features(first:50){edges{node{key}}}}`, nil, "FORBIDDEN"},
		{"a feature by key", `{feature(key:"auto_gather"){id}}`, nil, "FORBIDDEN"},
		{"her features are hers only", `{me{packages{package{contents{feature{key name kind}}}} activeFeatures{key}}}`, nil, ""},
		{"nodes mixing hers and bob's", `query($ids:[ID!]!){nodes(ids:$ids){id}}`, map[string]any{"ids": []string{id(w.alice.ID), id(w.bob.ID)}}, "NOT_FOUND"},
		{"who else holds her package", `{me{packages{package{userPackages{user{username}}}}}}`, nil, "FORBIDDEN"},
		{"her package's contents lead nowhere else", `{me{packages{package{contents{package{userPackages{id}}}}}}}`, nil, "FORBIDDEN"},
		{"her session's user is herself", `{me{sessions{user{username packages{user{username}}}}}}`, nil, ""},
		{"revoke bob's session", `mutation($id:ID!){revokeSession(id:$id){id}}`, map[string]any{"id": id(bobSession)}, "NOT_FOUND"},
		{"admin look-up by name", `{user(username:"bob"){id}}`, nil, "FORBIDDEN"},
		{"connections with filters", `{userSessions(where:{hasUserWith:[{username:"bob"}]}){totalCount}}`, nil, "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Do(alice, tt.query, tt.vars)
			if tt.code != "" {
				wantCode(t, r, tt.code)
			} else {
				mustData(t, r)
			}
			for _, secret := range []string{`"bob"`, id(w.bob.ID), id(bobSession), id(w.bobUP.ID), "Basic", "auto_gather", "Auto gather", featureID(w, "auto_gather")} {
				if strings.Contains(string(r.Data), secret) {
					t.Fatalf("answer holds bob's data %s: %s", secret, r.Data)
				}
			}
		})
	}

	// The user may not change what they may use.
	for _, q := range []string{
		`mutation($id:ID!){updateUserPackage(id:$id,input:{extendDays:100}){id}}`,
		`mutation($id:ID!){updateUser(id:$id,input:{role:ADMIN}){id}}`,
	} {
		target := id(w.aliceUP.ID)
		if strings.Contains(q, "updateUser(") {
			target = id(w.alice.ID)
		}
		wantCode(t, w.Do(alice, q, map[string]any{"id": target}), "FORBIDDEN")
	}
	up := w.App.DB.Ent.UserPackage.GetX(sys(), w.aliceUP.ID)
	if !up.ExpiresAt.Equal(w.aliceUP.ExpiresAt) {
		t.Fatal("alice extended her own assignment")
	}
}
