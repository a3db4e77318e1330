package db

// SQLiteDSN is sqliteDSN, for tests that open connections of their own
// with Gatehouse's settings.
var SQLiteDSN = sqliteDSN

// WritersWaiting is how many writes wait for their turn on d.
func WritersWaiting(d *DB) int { return d.queue.turns.Waiting() }
