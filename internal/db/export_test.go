package db

// SQLiteDSN is sqliteDSN, for tests that open connections of their own
// with Gatehouse's settings.
var SQLiteDSN = sqliteDSN

// GroupCommits is how many group transactions d's writer has committed.
func GroupCommits(d *DB) int64 { return d.queue.commits.Load() }

// WritersWaiting is how many writes wait for their turn on d.
func WritersWaiting(d *DB) int { return d.queue.turns.Waiting() }
