package service

import (
	"context"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/user"
)

// Operations that read rows, decide and then write (extend an assignment,
// keep the last admin) take row locks first, in the transaction that
// writes, so that two of them on the same rows run one after the other
// instead of both deciding on what they read before the other wrote.
//
// The locks, and the order in which they are taken (never the other way
// round, so that two transactions cannot wait for each other):
//
//  1. lockAdmins: every enabled admin, by an operation that may leave one
//     fewer (demote, disable, delete);
//  2. lockUser: the user whose assignments or account change;
//  3. lockPackage: the package of the assignment written, shared (its
//     grace days are copied into the assignment). UpdatePackage updates
//     the package's row before it rewrites its assignments, so the two
//     never interleave.
//
// On PostgreSQL these are SELECT … FOR UPDATE. SQLite has no row locks and
// needs none: each of its write transactions begins IMMEDIATE and holds the
// database's single write lock until it ends, and internal/db queues them
// one at a time.

// forUpdate is a query predicate that locks the rows the query reads until
// the transaction ends, where the database has row locks.
func forUpdate(s *sql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}

// forShare is a query predicate that keeps the rows the query reads from
// being changed until the transaction ends, where the database has row
// locks; other readers that share the lock do not wait.
func forShare(s *sql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForShare()
	}
}

// rowLocks reports whether tx's database has row locks (PostgreSQL). On
// SQLite a write transaction holds the database's one write lock from
// BEGIN IMMEDIATE on, so nothing it has read can change under it.
func rowLocks(tx *ent.Tx) bool { return tx.Client().Dialect() == dialect.Postgres }

// lockUser reads user id and locks their row: changes to the user and to
// their assignments made through it are serialised.
func lockUser(ctx context.Context, tx *ent.Tx, id int) (*ent.User, error) {
	return tx.User.Query().Where(user.ID(id), forUpdate).Only(ctx)
}

// lockUserID is lockUser for a caller that needs only the lock, or on
// SQLite only to know that the user exists: it reads the id alone.
func lockUserID(ctx context.Context, tx *ent.Tx, id int) error {
	_, err := tx.User.Query().Where(user.ID(id), forUpdate).FirstID(ctx)
	return err
}

// lockAdmins locks the rows of the enabled admins and returns their ids:
// until the transaction ends, none of them can be demoted, disabled or
// deleted by anyone else.
func lockAdmins(ctx context.Context, tx *ent.Tx) ([]int, error) {
	return tx.User.Query().
		Where(user.RoleEQ(user.RoleADMIN), user.Disabled(false), forUpdate).
		Order(ent.Asc(user.FieldID)).
		IDs(ctx)
}

// lockUserPackage reads assignment id under its user's lock (lockUser),
// reading it again once the lock is held: another change may have come
// first (where there are row locks; on SQLite nothing can have). A missing
// assignment is NOT_FOUND on field id.
func lockUserPackage(ctx context.Context, tx *ent.Tx, id int) (*ent.UserPackage, error) {
	up, err := tx.UserPackage.Get(ctx, id)
	if err != nil || !rowLocks(tx) {
		return up, notFound(err, "user package", "id")
	}
	if err := lockUserID(ctx, tx, up.UserID); err != nil {
		return nil, notFound(err, "user package", "id")
	}
	up, err = tx.UserPackage.Get(ctx, id)
	return up, notFound(err, "user package", "id")
}
