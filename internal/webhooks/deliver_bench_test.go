package webhooks_test

import (
	"context"
	"testing"

	"gatehouse/ent"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/internal/webhooks"
)

// BenchmarkDeliver measures the background sender end to end: b.N due
// deliveries in the outbox, sent by Run to a local receiver that answers
// 204 (claiming in batches, signing, posting, recording each outcome).
// It reports deliveries per second.
func BenchmarkDeliver(b *testing.B) {
	f := newDFix(b)
	r := newReceiverB(b)
	ep := f.endpoint(b, r.URL)
	body, _ := webhooks.Body("user_package.assigned", timeNow(), map[string]any{"userPackage": map[string]any{"id": 42, "user": 7, "package": 3}})
	for left := b.N; left > 0; {
		n := min(left, 500)
		creates := make([]*ent.WebhookDeliveryCreate, n)
		for i := range creates {
			creates[i] = f.db.Ent.WebhookDelivery.Create().SetEndpointID(ep.Endpoint.ID).SetEventType("user_package.assigned").
				SetBody(body).SetWebhookID(webhooks.NewWebhookID()).SetNextAttemptAt(f.clock.Now())
		}
		if err := f.db.Ent.WebhookDelivery.CreateBulk(creates...).Exec(f.sys); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
	s := f.deliverer(b)
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	if n, err := f.db.Ent.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusDELIVERED)).Count(f.sys); err != nil || n != b.N {
		b.Fatalf("delivered %d of %d, %v", n, b.N, err)
	}
}
