package db

// SQLiteDSN is sqliteDSN, for tests that open connections of their own
// with Gatehouse's settings.
var SQLiteDSN = sqliteDSN
