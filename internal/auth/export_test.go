package auth

// OnCompare makes f run before every password comparison until the test
// calls the returned restore.
func OnCompare(f func()) (restore func()) {
	beforeCompare = f
	return func() { beforeCompare = nil }
}
