package auth

// OnCompare makes f run before every password comparison until the test
// calls the returned restore.
func OnCompare(f func()) (restore func()) {
	beforeCompare = f
	return func() { beforeCompare = nil }
}

// OnHash makes f run inside every password operation of s, with the number
// of operations running at that moment. Set it before s is used.
func OnHash(s *Service, f func(running int)) { s.hashes.hook = f }

// HashesWaiting is the number of password operations of s waiting for
// their turn.
func HashesWaiting(s *Service) int { return s.hashes.turns.Waiting() }

// DummyHash is the hash unknown usernames are compared with.
func DummyHash(cost int) (string, error) { return dummyHash(cost) }
