//go:build !cgo

package db

var sqliteFailures []failure
