package eventtypes_test

import (
	"strings"
	"testing"

	"gatehouse/internal/webhooks/eventtypes"
)

func TestMatches(t *testing.T) {
	for _, tt := range []struct {
		list eventtypes.List
		typ  string
		want bool
	}{
		{nil, "user.created", true},
		{eventtypes.List{}, "login.failed", true},
		{eventtypes.List{"user.created"}, "user.created", true},
		{eventtypes.List{"user.created"}, "user.deleted", false},
		{eventtypes.List{"user.created"}, "user.created.more", false},
		{eventtypes.List{"user.created"}, "user", false},
		{eventtypes.List{"user_package.*"}, "user_package.assigned", true},
		{eventtypes.List{"user_package.*"}, "user_package.expiring", true},
		{eventtypes.List{"user_package.*"}, "user_package.", false},
		{eventtypes.List{"user_package.*"}, "user_package", false},
		{eventtypes.List{"user.*"}, "user_package.assigned", false}, // a prefix is whole segments
		{eventtypes.List{"user.*"}, "user.password_changed", true},
		{eventtypes.List{"login.*", "user.created"}, "user.created", true},
		{eventtypes.List{"login.*", "user.created"}, "login.throttled", true},
		{eventtypes.List{"login.*", "user.created"}, "session.issued", false},
		{eventtypes.List{"package.*"}, "package_content.created", false},
	} {
		if got := tt.list.Matches(tt.typ); got != tt.want {
			t.Errorf("%q.Matches(%q) = %v, want %v", tt.list, tt.typ, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := []eventtypes.List{nil, {}, {"user.created"}, {"user_package.*"}, {"a"}, {"a.*"}, {"feature.x2_y"}, {"a" + strings.Repeat(".b", 49)}}
	bad := []eventtypes.List{{""}, {"*"}, {".*"}, {"User.created"}, {"user."}, {".user"}, {"user..created"}, {"user.*.x"}, {"user*"}, {"user.2x"}, {"1user"}, {"user created"}, {"a" + strings.Repeat(".b", 50)}}
	for _, l := range ok {
		if err := eventtypes.Validate(l); err != nil {
			t.Errorf("%q refused: %v", l, err)
		}
	}
	for _, l := range bad {
		if err := eventtypes.Validate(l); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
	many := make(eventtypes.List, eventtypes.Max+1)
	for i := range many {
		many[i] = "a.b"
	}
	if eventtypes.Validate(many[:eventtypes.Max]) != nil || eventtypes.Validate(many) == nil {
		t.Errorf("the limit of %d entries is not where it should be", eventtypes.Max)
	}
}
