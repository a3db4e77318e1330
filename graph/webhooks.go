package graph

import (
	"entgo.io/contrib/entgql"

	"gatehouse/ent"
)

// newestDeliveriesFirst is the delivery log's default order.
var newestDeliveriesFirst = &ent.WebhookDeliveryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.WebhookDeliveryOrderFieldCreatedAt}
