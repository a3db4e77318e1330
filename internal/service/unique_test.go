package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/feature"
	"gatehouse/ent/migrate"
	"gatehouse/ent/user"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
)

// duplicate makes two records that share the values of one unique
// constraint and returns the second's error, with the field a client must
// be told.
type duplicate struct {
	field string
	make  func(f *fixture) error
}

// duplicates has one entry for each unique constraint of the schema, keyed
// "table(column, …)"; TestUniqueViolationNamesField fails for a constraint
// without one.
var duplicates = map[string]duplicate{
	"users(username_fold)": {"username", func(f *fixture) error {
		f.user("dave", user.RoleUSER)
		_, err := f.svc.CreateUser(f.sys, service.CreateUserInput{Username: "DAVE", Password: "another password"})
		return err
	}},
	"packages(name)": {"name", func(f *fixture) error {
		f.pkg("gold", 30)
		_, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: "gold", Days: 10})
		return err
	}},
	"features(key)": {"key", func(f *fixture) error {
		if _, err := f.svc.CreateFeature(f.sys, service.CreateFeatureInput{Key: "seats", Name: "Seats", Kind: feature.KindLIMIT}); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		_, err := f.svc.CreateFeature(f.sys, service.CreateFeatureInput{Key: "seats", Name: "Seats again", Kind: feature.KindSWITCH})
		return err
	}},
	"package_contents(package_id,feature_id)": {"featureKey", func(f *fixture) error {
		if _, err := f.svc.CreateFeature(f.sys, service.CreateFeatureInput{Key: "cloud_sync", Name: "Cloud sync", Kind: feature.KindSWITCH}); err != nil {
			return fmt.Errorf("create feature: %w", err)
		}
		p, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: "platinum", Days: 30, Contents: []*service.PackageContentInput{
			{Name: "Sync", FeatureKey: "cloud_sync"},
		}})
		if err != nil {
			return fmt.Errorf("create package: %w", err)
		}
		_, err = f.svc.CreatePackageContent(f.sys, service.CreatePackageContentInput{PackageID: p.ID, Name: "Sync again", FeatureKey: "cloud_sync"})
		return err
	}},
	"package_trials(user_id,package_id)": {"packageID", func(f *fixture) error {
		u, p := f.user("trier", user.RoleUSER), f.pkg("trial-twice", 7)
		if err := f.db.Ent.PackageTrial.Create().SetUserID(u.ID).SetPackageID(p.ID).Exec(f.sys); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return f.db.Ent.PackageTrial.Create().SetUserID(u.ID).SetPackageID(p.ID).Exec(f.sys)
	}},
	"login_throttles(key)": {"key", func(f *fixture) error {
		create := f.db.Ent.LoginThrottle.Create().SetKey("user:bob").SetWindowStartedAt(time.Now())
		if err := create.Exec(f.sys); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return f.db.Ent.LoginThrottle.Create().SetKey("user:bob").SetWindowStartedAt(time.Now()).Exec(f.sys)
	}},
	"job_leases(name)": {"name", func(f *fixture) error {
		now := time.Now()
		lease := func(holder string) error {
			return f.db.Ent.JobLease.Create().SetName("events.time").SetHolder(holder).
				SetAcquiredAt(now).SetExpiresAt(now.Add(time.Minute)).Exec(f.sys)
		}
		if err := lease("a"); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return lease("b")
	}},
	"persisted_queries(hash)": {"hash", func(f *fixture) error {
		query := func() error {
			return f.db.Ent.PersistedQuery.Create().SetHash("same-hash").SetQuery("{ me { id } }").Exec(f.sys)
		}
		if err := query(); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return query()
	}},
	"signing_keys(kid)": {"kid", func(f *fixture) error {
		key := func() error {
			return f.db.Ent.SigningKey.Create().SetKid("k1").SetAlgorithm("EdDSA").
				SetPublicKey([]byte{1}).SetPrivateKeySealed([]byte{2}).Exec(f.sys)
		}
		if err := key(); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return key()
	}},
	"signing_keys(current)": {"current", func(f *fixture) error {
		key := func(kid string) error {
			return f.db.Ent.SigningKey.Create().SetKid(kid).SetAlgorithm("EdDSA").
				SetPublicKey([]byte{1}).SetPrivateKeySealed([]byte{2}).SetCurrent(true).Exec(f.sys)
		}
		if err := key("c1"); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return key("c2")
	}},
	"user_sessions(token_hash)": {"tokenHash", func(f *fixture) error {
		u := f.user("erin", user.RoleUSER)
		now := time.Now()
		session := func() error {
			return f.db.Ent.UserSession.Create().SetUserID(u.ID).SetTokenHash("same-hash").
				SetCreatedAt(now).SetLastSeenAt(now).SetExpiresAt(now.Add(time.Hour)).SetMaxExpiresAt(now.Add(time.Hour)).
				Exec(f.sys)
		}
		if err := session(); err != nil {
			return fmt.Errorf("first: %w", err)
		}
		return session()
	}},
}

// Every unique column and unique index of the schema, violated through
// the real service or ent path, answers CONFLICT naming its field.
func TestUniqueViolationNamesField(t *testing.T) {
	f := newFixture(t)
	for _, tbl := range migrate.Tables {
		var keys []string
		for _, c := range tbl.Columns {
			if c.Unique {
				keys = append(keys, fmt.Sprintf("%s(%s)", tbl.Name, c.Name))
			}
		}
		for _, idx := range tbl.Indexes {
			if idx.Unique {
				cols := make([]string, len(idx.Columns))
				for i, c := range idx.Columns {
					cols[i] = c.Name
				}
				keys = append(keys, fmt.Sprintf("%s(%s)", tbl.Name, strings.Join(cols, ",")))
			}
		}
		for _, key := range keys {
			t.Run(key, func(t *testing.T) {
				d, ok := duplicates[key]
				if !ok {
					t.Fatalf("unique constraint %s has no case in duplicates", key)
				}
				f.t = t
				err := d.make(f)
				if err == nil {
					t.Fatal("the duplicate was accepted")
				}
				e := service.Classify(context.Background(), err)
				if e == nil || e.Code != apperr.Conflict || e.Field != d.field {
					t.Fatalf("got %+v from %v, want CONFLICT on %q", e, err, d.field)
				}
				if strings.Contains(e.Message, tbl.Name) || strings.Contains(strings.ToLower(e.Message), "constraint") {
					t.Errorf("message %q shows the database's text", e.Message)
				}
			})
		}
	}
}
