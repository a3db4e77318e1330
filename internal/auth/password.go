// Package auth signs users in: password rules and hashing, API session
// tokens with sliding expiry, login throttling and the first admin.
package auth

import (
	"crypto/rand"
	"errors"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/internal/apperr"
)

// Password rules. bcrypt reads at most 72 bytes, so longer passwords are
// refused rather than silently truncated.
const (
	MinPasswordChars = 8
	MaxPasswordBytes = 72
	MinBcryptCost    = 10
)

// CheckPassword tells whether pw may be set as a password; field names the
// input field for the error.
func CheckPassword(field, pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return apperr.Invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		return apperr.Invalid(field, "must be at least %d characters", MinPasswordChars)
	case len(pw) > MaxPasswordBytes:
		return apperr.Invalid(field, "must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// HashPassword checks pw against the rules and hashes it with bcrypt. It is
// the one place Gatehouse turns a password into a stored hash.
func HashPassword(field, pw string, cost int) (string, error) {
	return hashPassword(field, pw, max(cost, MinBcryptCost))
}

// hashPassword is HashPassword with the cost as given (see
// Config.TestBcryptCost).
func hashPassword(field, pw string, cost int) (string, error) {
	if err := CheckPassword(field, pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// beforeCompare, when set (by tests), is called before every password
// comparison.
var beforeCompare func()

// passwordMatches compares pw with a bcrypt hash in constant time.
func passwordMatches(hash, pw string) bool {
	if beforeCompare != nil {
		beforeCompare()
	}
	if len(pw) > MaxPasswordBytes {
		// Still spend the time of a comparison.
		pw = pw[:MaxPasswordBytes]
		_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// RandomPassword returns a password of n characters from an unambiguous
// alphabet, for the first admin.
func RandomPassword(n int) (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	if n < MinPasswordChars {
		return "", errors.New("random password too short")
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
