package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"gatehouse/internal/webhooks"
)

// BenchmarkSend posts signed webhooks to a local receiver that reads the
// body and answers 204, from GOMAXPROCS goroutines over kept-alive
// connections: the sender's own throughput (signing, HTTP, the outcome).
func BenchmarkSend(b *testing.B) {
	r := newReceiverB(b)
	s := webhooks.NewSender(allowPrivate)
	secret := webhooks.NewSecret()
	body, _ := webhooks.Body("user_package.assigned", timeNow(), map[string]any{"userPackage": map[string]any{"id": 42, "user": 7, "package": 3}})
	m := webhooks.Message{ID: "msg_bench", Timestamp: timeNow(), Body: body}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if out := s.Send(context.Background(), r.URL, m, secret); !out.OK() {
				b.Errorf("outcome %+v", out)
				return
			}
		}
	})
}

func newReceiverB(b *testing.B) *receiver {
	b.Helper()
	return newReceiverOn(b, "tcp", "127.0.0.1:0", func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusNoContent)
	})
}
