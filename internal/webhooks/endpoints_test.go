package webhooks_test

import (
	"testing"

	"gatehouse/ent"
	"gatehouse/internal/webhooks"
)

func TestReceives(t *testing.T) {
	for _, tt := range []struct {
		ep   ent.WebhookEndpoint
		typ  string
		want bool
	}{
		{ent.WebhookEndpoint{Enabled: true}, "user.created", true},
		{ent.WebhookEndpoint{Enabled: false}, "user.created", false},
		{ent.WebhookEndpoint{Enabled: true, EventTypes: []string{"user_package.*"}}, "user_package.expired", true},
		{ent.WebhookEndpoint{Enabled: true, EventTypes: []string{"user_package.*"}}, "user.created", false},
		{ent.WebhookEndpoint{Enabled: false, EventTypes: []string{"user.created"}}, "user.created", false},
	} {
		if got := webhooks.Receives(&tt.ep, tt.typ); got != tt.want {
			t.Errorf("enabled %v, types %q: Receives(%q) = %v", tt.ep.Enabled, tt.ep.EventTypes, tt.typ, got)
		}
	}
}
