package live

// OnDeliver makes f see every notice the hub gets (under the hub's lock).
func (h *Hub) OnDeliver(f func(*Notice)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onDeliver = f
}

// Split is Notice.split.
func (n *Notice) Split(max int) [][]byte { return n.split(max) }
