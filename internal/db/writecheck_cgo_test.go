//go:build cgo

package db

import (
	"fmt"

	"github.com/mattn/go-sqlite3"
)

var sqliteFailures = []failure{
	{sqlite3.Error{Code: sqlite3.ErrFull}, "disk full"},
	{sqlite3.Error{Code: sqlite3.ErrReadonly}, "read-only"},
	{sqlite3.Error{Code: sqlite3.ErrIoErr}, "I/O error"},
	{sqlite3.Error{Code: sqlite3.ErrBusy}, reasonBusy},
	{fmt.Errorf("ent: exec: %w", sqlite3.Error{Code: sqlite3.ErrFull}), "disk full"},
}
