package graph

import (
	"entgo.io/contrib/entgql"

	"gatehouse/ent"
	"gatehouse/internal/webhooks"
)

// newestDeliveriesFirst is the delivery log's default order.
var newestDeliveriesFirst = &ent.WebhookDeliveryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.WebhookDeliveryOrderFieldCreatedAt}

// endpoints are the webhook endpoint operations, recording their changes
// in the event log.
func (r *Resolver) endpoints() *webhooks.Endpoints {
	return webhooks.NewEndpoints(r.Client, r.Service.Events())
}
