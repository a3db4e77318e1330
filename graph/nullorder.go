package graph

import (
	"context"

	"entgo.io/contrib/entgql"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/keyset"
)

// usersAfterNullableCursor answers a page of users ordered by
// LAST_LOGIN_AT after or before a cursor. last_login_at is NULL for the
// users who never signed in, and entgql's cursor predicate loses or
// repeats rows across NULLs (see package keyset), so the page is asked for
// without the cursor, keyset's predicate takes its place in the list
// query (the total still counts the whole list), and the page info says
// what entgql's says of a page after (before) a cursor.
func (r *queryResolver) usersAfterNullableCursor(ctx context.Context, after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int, orderBy *ent.UserOrder, where *ent.UserWhereInput) (*ent.UserConnection, error) {
	p, err := keyset.Predicate(r.Client.Dialect(), user.FieldLastLoginAt, user.FieldID, orderBy.Direction == entgql.OrderDirectionDesc, after, before)
	if err != nil {
		return nil, err
	}
	conn, err := r.Client.User.Query().Paginate(keyset.With(ctx, p), nil, first, nil, last, ent.WithUserOrder(orderBy), ent.WithUserFilter(where.Filter))
	if err != nil {
		return nil, err
	}
	conn.PageInfo.HasPreviousPage = conn.PageInfo.HasPreviousPage || after != nil
	conn.PageInfo.HasNextPage = conn.PageInfo.HasNextPage || before != nil
	return conn, nil
}
