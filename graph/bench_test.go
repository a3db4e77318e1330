package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

// post sends one GraphQL request and fails on a non-200 answer.
func post(b *testing.B, url, token string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("status %d", res.StatusCode)
	}
}

// BenchmarkCheckAccess measures the call client apps make most: one
// checkAccess over HTTP with a bearer token.
func BenchmarkCheckAccess(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	u := s.CreateUser("alice", "alice-password", user.RoleUSER)
	p, err := s.App.Service.CreatePackage(sys(), service.CreatePackageInput{Name: "Pro", Days: 30,
		Contents: []*service.PackageContentInput{{Name: "g", FeatureKey: "moe_gatherer"}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.App.Service.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID}); err != nil {
		b.Fatal(err)
	}
	tok := s.Login("alice", "alice-password")
	body, _ := json.Marshal(map[string]any{"query": `{checkAccess(feature: "moe_gatherer"){granted code expiresAt}}`})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		post(b, s.URL, tok, body)
	}
}

// BenchmarkUsersPage measures an admin reading a page of 100 users with
// their packages, contents and sessions.
func BenchmarkUsersPage(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	s.CreateUser("root", "root-password", user.RoleADMIN)
	p, err := s.App.Service.CreatePackage(sys(), service.CreatePackageInput{Name: "Pro", Days: 30,
		Contents: []*service.PackageContentInput{{Name: "g", FeatureKey: "moe_gatherer"}, {Name: "s", FeatureKey: "cloud_sync"}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		u := s.App.DB.Ent.User.Create().SetUsername(fmt.Sprintf("user%03d", i)).SetPasswordHash("x").SaveX(sys())
		if _, err := s.App.Service.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID}); err != nil {
			b.Fatal(err)
		}
	}
	tok := s.Login("root", "root-password")
	body, _ := json.Marshal(map[string]any{"query": `{users(first:100){totalCount edges{node{id username packages{id expiresAt active package{id name contents{id limit feature{key}}}} sessions{id active}}}}}`})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		post(b, s.URL, tok, body)
	}
}
