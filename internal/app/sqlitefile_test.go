package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/testdb"
)

// gql sends one GraphQL request and returns its first error, if any (safe
// to call from any goroutine).
func gql(url, token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("status %d: %s", res.StatusCode, out.Errors[0].Message)
	}
	return nil
}

// Writers and readers at once through the API on a SQLite file: every
// write lands, every read is answered, and nothing waits in SQLite's
// busy handler until "database is locked".
func TestConcurrentWritersAndReadersOnSQLiteFile(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite's writer and readers")
	}
	const (
		writers = 8
		readers = 8
		each    = 10
	)
	cfg := apptest.Config()
	cfg.Database.DSN = filepath.Join(t.TempDir(), "gatehouse.db")
	cfg.Database.Driver = config.DriverSQLite
	ctx := context.Background()
	d, err := app.OpenDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := apptest.StartOn(t, d, func(c *config.Config) { c.Database = cfg.Database }, app.Options{})
	s.CreateUser("root", "root-password", user.RoleADMIN)
	token := s.Login("root", "root-password")

	var wg sync.WaitGroup
	errs := make(chan error, (writers+readers)*each)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				errs <- gql(s.URL, token, `mutation($n:String!){createPackage(input:{name:$n,days:30}){id}}`,
					map[string]any{"n": fmt.Sprintf("package %d-%d", w, i)})
			}
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				errs <- gql(s.URL, token, `{ packages(first: 50) { totalCount edges { node { name } } } me { username } }`, nil)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("request: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, (writers+readers)*each)
	}
	var got struct{ Packages struct{ TotalCount int } }
	s.MustDo(token, `{ packages { totalCount } }`, nil).Decode(t, &got)
	if got.Packages.TotalCount != writers*each {
		t.Errorf("%d packages, want %d", got.Packages.TotalCount, writers*each)
	}
	if logs := s.Logs.String(); strings.Contains(logs, "database is locked") || strings.Contains(logs, "busy") {
		t.Errorf("the server waited for the database:\n%s", logs)
	}
}
