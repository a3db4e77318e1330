package schema

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent"

	"gatehouse/internal/apperr"
)

// checkPeriod refuses a row whose end time is not after its start time.
func checkPeriod(startField, endField string) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate | ent.OpUpdate | ent.OpUpdateOne) {
				return next.Mutate(ctx, m)
			}
			start, startSet := timeField(m, startField)
			end, endSet := timeField(m, endField)
			if !startSet && !endSet {
				return next.Mutate(ctx, m)
			}
			if !startSet || !endSet {
				if !m.Op().Is(ent.OpUpdateOne) {
					if m.Op().Is(ent.OpUpdate) {
						return nil, apperr.Invalid(APIField(endField), "%s and %s must be changed one record at a time", startField, endField)
					}
					return next.Mutate(ctx, m)
				}
				name := startField
				if startSet {
					name = endField
				}
				old, err := m.OldField(ctx, name)
				if err != nil {
					return nil, err
				}
				t, _ := old.(time.Time)
				if startSet {
					end = t
				} else {
					start = t
				}
			}
			if !end.After(start) {
				return nil, apperr.Invalid(APIField(endField), "must be after %s", APIField(startField))
			}
			return next.Mutate(ctx, m)
		})
	}
}

func timeField(m ent.Mutation, name string) (time.Time, bool) {
	v, ok := m.Field(name)
	if !ok {
		return time.Time{}, false
	}
	t, ok := v.(time.Time)
	return t, ok
}

// APIField spells a column name as the API does: expires_at → expiresAt,
// user_id → userID. Errors name fields this way everywhere.
func APIField(column string) string {
	switch column {
	case "user_id":
		return "userID"
	case "package_id":
		return "packageID"
	}
	out := make([]byte, 0, len(column))
	up := false
	for i := 0; i < len(column); i++ {
		c := column[i]
		switch {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			out = append(out, c-'a'+'A')
			up = false
		default:
			out = append(out, c)
			up = false
		}
	}
	return string(out)
}

// together refuses a mutation that sets field without also setting with:
// with is derived from field, and every write keeps the two in step.
func together(field, with string) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if _, ok := m.Field(field); ok {
				if _, ok := m.Field(with); !ok {
					return nil, fmt.Errorf("%s: %s set without %s", m.Type(), field, with)
				}
			}
			return next.Mutate(ctx, m)
		})
	}
}
