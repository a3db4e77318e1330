// Command pocketbase is the benchmark's comparator: PocketBase, the
// single-binary server people would pick instead of Gatehouse, with the
// benchmark's data set in collections of the same shape.
//
//	pocketbase seed --dir DIR --data FILE --superuser EMAIL:PASSWORD
//	pocketbase serve --http 127.0.0.1:PORT --dir DIR
//
// seed creates the collections and writes the data set that bench/load
// exported from Gatehouse's seeded database (JSON, see dataset), with the
// records' ids made from Gatehouse's ("u" and 14 digits for user 42 ...),
// so that the load run can address the same users and packages. serve is
// PocketBase's own command, with its defaults.
//
// It is a module of its own (bench/pocketbase/go.mod): the main module's
// go test/vet/generate ./... neither build nor download it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

func main() {
	app := pocketbase.New()
	var dataFile, superuser string
	seedCmd := &cobra.Command{
		Use:   "seed",
		Short: "Create the benchmark's collections and write its data set",
		RunE: func(*cobra.Command, []string) error {
			email, pass, ok := strings.Cut(superuser, ":")
			if !ok || email == "" || pass == "" {
				return errors.New("--superuser must be EMAIL:PASSWORD")
			}
			b, err := os.ReadFile(dataFile)
			if err != nil {
				return err
			}
			var d dataset
			if err := json.Unmarshal(b, &d); err != nil {
				return fmt.Errorf("%s: %w", dataFile, err)
			}
			t0 := time.Now()
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			if err := seed(app, &d, email, pass); err != nil {
				return err
			}
			fmt.Printf("seeded %d users, %d packages, %d contents, %d assignments, %d sessions in %s\n",
				len(d.Users), len(d.Packages), len(d.Contents), len(d.Assignments), len(d.Sessions), time.Since(t0).Round(time.Millisecond))
			return nil
		},
	}
	seedCmd.Flags().StringVar(&dataFile, "data", "", "the data set (JSON) exported by bench/load")
	seedCmd.Flags().StringVar(&superuser, "superuser", "", "EMAIL:PASSWORD of a superuser to create")
	app.RootCmd.AddCommand(seedCmd)
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// dataset is the data set as bench/load exports it (ids are Gatehouse's).
type dataset struct {
	Features []struct {
		ID   int    `json:"id"`
		Key  string `json:"key"`
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"features"`
	Packages []struct {
		ID        int    `json:"id"`
		Name      string `json:"name"`
		Detail    string `json:"detail"`
		Days      int    `json:"days"`
		GraceDays int    `json:"grace_days"`
	} `json:"packages"`
	Contents []struct {
		ID      int    `json:"id"`
		Package int    `json:"package"`
		Feature int    `json:"feature"`
		Name    string `json:"name"`
		Limit   *int   `json:"limit"`
	} `json:"contents"`
	Users []struct {
		ID           int    `json:"id"`
		Username     string `json:"username"`
		PasswordHash string `json:"password_hash"`
		Role         string `json:"role"`
		Disabled     bool   `json:"disabled"`
	} `json:"users"`
	Assignments []struct {
		ID            int        `json:"id"`
		User          int        `json:"user"`
		Package       int        `json:"package"`
		Starts        time.Time  `json:"starts"`
		Expires       time.Time  `json:"expires"`
		GraceEnds     time.Time  `json:"grace_ends"`
		Suspended     *time.Time `json:"suspended"`
		SuspendReason string     `json:"suspend_reason"`
	} `json:"assignments"`
	Sessions []struct {
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
	} `json:"sessions"`
}

// ID is the PocketBase id of Gatehouse's record id of a kind: a letter
// and 14 digits (PocketBase's ids are 15 characters of [a-z0-9]).
func ID(kind byte, id int) string { return fmt.Sprintf("%c%014d", kind, id) }

// seed creates the collections and writes d in one transaction.
func seed(app core.App, d *dataset, email, pass string) error {
	su, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	s := core.NewRecord(su)
	s.SetEmail(email)
	s.SetPassword(pass)
	if err := app.Save(s); err != nil {
		return fmt.Errorf("superuser: %w", err)
	}
	cols, err := collections(app)
	if err != nil {
		return err
	}
	return app.RunInTransaction(func(tx core.App) error {
		save := func(what string, r *core.Record) error {
			if err := tx.Save(r); err != nil {
				return fmt.Errorf("%s %s: %w", what, r.Id, err)
			}
			return nil
		}
		for _, f := range d.Features {
			r := core.NewRecord(cols.features)
			r.Id = ID('f', f.ID)
			r.Set("key", f.Key)
			r.Set("name", f.Name)
			r.Set("kind", f.Kind)
			if err := save("feature", r); err != nil {
				return err
			}
		}
		for _, p := range d.Packages {
			r := core.NewRecord(cols.packages)
			r.Id = ID('p', p.ID)
			r.Set("name", p.Name)
			r.Set("detail", p.Detail)
			r.Set("days", p.Days)
			r.Set("grace_days", p.GraceDays)
			if err := save("package", r); err != nil {
				return err
			}
		}
		for _, c := range d.Contents {
			r := core.NewRecord(cols.contents)
			r.Id = ID('c', c.ID)
			r.Set("name", c.Name)
			r.Set("package", ID('p', c.Package))
			r.Set("feature", ID('f', c.Feature))
			if c.Limit != nil {
				r.Set("limit", *c.Limit)
			}
			if err := save("content", r); err != nil {
				return err
			}
		}
		for _, u := range d.Users {
			r := core.NewRecord(cols.users)
			r.Id = ID('u', u.ID)
			r.Set("username", u.Username)
			r.SetEmail(u.Username + "@bench.invalid")
			// Gatehouse's bcrypt hash (cost 10, PocketBase's default
			// too) as it is: both check the same password the same way.
			r.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: u.PasswordHash})
			r.Set("role", u.Role)
			r.Set("disabled", u.Disabled)
			if err := save("user", r); err != nil {
				return err
			}
		}
		for _, a := range d.Assignments {
			r := core.NewRecord(cols.assignments)
			r.Id = ID('a', a.ID)
			r.Set("user", ID('u', a.User))
			r.Set("package", ID('p', a.Package))
			r.Set("starts", a.Starts)
			r.Set("expires", a.Expires)
			r.Set("grace_ends", a.GraceEnds)
			if a.Suspended != nil {
				r.Set("suspended", *a.Suspended)
				r.Set("suspend_reason", a.SuspendReason)
			}
			if err := save("assignment", r); err != nil {
				return err
			}
		}
		for _, x := range d.Sessions {
			r := core.NewRecord(cols.sessions)
			r.Id = ID('s', x.ID)
			r.Set("user", ID('u', x.User))
			r.Set("token_hash", x.TokenHash)
			r.Set("created_at", x.CreatedAt)
			r.Set("last_seen", x.LastSeen)
			r.Set("expires", x.Expires)
			r.Set("max_expires", x.MaxExpires)
			if x.Revoked != nil {
				r.Set("revoked", *x.Revoked)
			}
			r.Set("ip", x.IP)
			r.Set("user_agent", x.UserAgent)
			if err := save("session", r); err != nil {
				return err
			}
		}
		return nil
	})
}

type cols struct {
	features, packages, contents, users, assignments, sessions *core.Collection
}

// collections creates the six collections with the fields and indexes of
// Gatehouse's tables (an index on every relation a list or an expand
// reads by). Their rules stay nil: only superusers may use them, as only
// Gatehouse's admin may list users or assign packages.
func collections(app core.App) (*cols, error) {
	var c cols
	autodates := func(col *core.Collection) {
		col.Fields.Add(&core.AutodateField{Name: "created", OnCreate: true})
		col.Fields.Add(&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true})
	}
	rel := func(name string, to *core.Collection, cascade bool) *core.RelationField {
		return &core.RelationField{Name: name, CollectionId: to.Id, MaxSelect: 1, Required: true, CascadeDelete: cascade}
	}

	c.features = core.NewBaseCollection("features")
	c.features.Fields.Add(
		&core.TextField{Name: "key", Required: true, Max: 100},
		&core.TextField{Name: "name", Required: true},
		&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: []string{"SWITCH", "LIMIT"}},
	)
	autodates(c.features)
	c.features.AddIndex("idx_features_key", true, "key", "")

	c.packages = core.NewBaseCollection("packages")
	c.packages.Fields.Add(
		&core.TextField{Name: "name", Required: true},
		&core.TextField{Name: "detail"},
		&core.NumberField{Name: "days", OnlyInt: true},
		&core.NumberField{Name: "grace_days", OnlyInt: true},
	)
	autodates(c.packages)
	c.packages.AddIndex("idx_packages_name", true, "name", "")
	for _, col := range []*core.Collection{c.features, c.packages} {
		if err := app.Save(col); err != nil {
			return nil, fmt.Errorf("collection %s: %w", col.Name, err)
		}
	}

	c.contents = core.NewBaseCollection("package_contents")
	c.contents.Fields.Add(
		&core.TextField{Name: "name", Required: true},
		rel("package", c.packages, true),
		rel("feature", c.features, true),
		&core.NumberField{Name: "limit", OnlyInt: true},
	)
	autodates(c.contents)
	c.contents.AddIndex("idx_package_contents_package_feature", true, "package, feature", "")
	c.contents.AddIndex("idx_package_contents_feature", false, "feature", "")

	// App users are an auth collection, as a PocketBase application keeps
	// its users: they sign in with username and password (the hash is
	// Gatehouse's, bcrypt cost 10), and password and tokenKey are hidden.
	c.users = core.NewAuthCollection("app_users")
	c.users.Fields.Add(
		&core.TextField{Name: "username", Required: true, Max: 64},
		&core.SelectField{Name: "role", Required: true, MaxSelect: 1, Values: []string{"ADMIN", "USER"}},
		&core.BoolField{Name: "disabled"},
	)
	autodates(c.users)
	c.users.AddIndex("idx_app_users_username", true, "username COLLATE NOCASE", "")
	c.users.PasswordAuth.IdentityFields = []string{"username"}
	if err := app.Save(c.contents); err != nil {
		return nil, fmt.Errorf("collection %s: %w", c.contents.Name, err)
	}
	if err := app.Save(c.users); err != nil {
		return nil, fmt.Errorf("collection %s: %w", c.users.Name, err)
	}

	c.assignments = core.NewBaseCollection("user_packages")
	c.assignments.Fields.Add(
		rel("user", c.users, true),
		rel("package", c.packages, false),
		&core.DateField{Name: "starts", Required: true},
		&core.DateField{Name: "expires", Required: true},
		&core.DateField{Name: "grace_ends"},
		&core.DateField{Name: "suspended"},
		&core.TextField{Name: "suspend_reason"},
	)
	autodates(c.assignments)
	c.assignments.AddIndex("idx_user_packages_user_package", false, "user, package", "")
	c.assignments.AddIndex("idx_user_packages_package", false, "package", "")
	c.assignments.AddIndex("idx_user_packages_expires", false, "expires", "")
	c.assignments.AddIndex("idx_user_packages_grace_ends", false, "grace_ends", "")

	c.sessions = core.NewBaseCollection("user_sessions")
	c.sessions.Fields.Add(
		rel("user", c.users, true),
		&core.TextField{Name: "token_hash", Required: true, Hidden: true},
		&core.DateField{Name: "created_at", Required: true},
		&core.DateField{Name: "last_seen", Required: true},
		&core.DateField{Name: "expires", Required: true},
		&core.DateField{Name: "max_expires", Required: true},
		&core.DateField{Name: "revoked"},
		&core.TextField{Name: "ip"},
		&core.TextField{Name: "user_agent"},
	)
	c.sessions.AddIndex("idx_user_sessions_token_hash", true, "token_hash", "")
	c.sessions.AddIndex("idx_user_sessions_user", false, "user", "")
	c.sessions.AddIndex("idx_user_sessions_expires", false, "expires", "")
	for _, col := range []*core.Collection{c.assignments, c.sessions} {
		if err := app.Save(col); err != nil {
			return nil, fmt.Errorf("collection %s: %w", col.Name, err)
		}
	}
	return &c, nil
}
