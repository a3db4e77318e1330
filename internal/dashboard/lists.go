package dashboard

import (
	"strconv"
)

// defaultPageSize is how many rows a list shows unless asked otherwise.
const defaultPageSize = 25

// oneOf accepts exactly the values vals.
func oneOf(vals ...string) func(string) bool {
	return func(v string) bool {
		for _, x := range vals {
			if v == x {
				return true
			}
		}
		return false
	}
}

// isID accepts a record id: a positive whole number, written plainly.
func isID(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n > 0 && strconv.Itoa(n) == v
}
