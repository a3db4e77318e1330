package webhooks

import "context"

// ClaimAndDrop claims a batch of due deliveries and does nothing more: a
// sender that died right after taking them (before or while posting).
func (d *Deliverer) ClaimAndDrop(ctx context.Context) (int, error) {
	b, err := d.claim(ctx)
	return len(b), err
}
