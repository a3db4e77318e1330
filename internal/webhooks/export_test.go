package webhooks

import (
	"time"

	"gatehouse/internal/config"
)

// NewSenderTimeout is NewSender with another timeout, for tests.
func NewSenderTimeout(cfg config.Webhooks, timeout time.Duration) *Sender {
	return newSender(cfg, timeout)
}
