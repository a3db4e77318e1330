package signing

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// SecretSize is the size of the signing secret in bytes.
const SecretSize = 32

// SecretFileSuffix names the secret file made beside a SQLite database
// when no secret is configured: data/gatehouse.db gets
// data/gatehouse.db.signing-secret.
const SecretFileSuffix = ".signing-secret"

// maxSecretFile bounds what is read of a secret file.
const maxSecretFile = 4096

// ErrNoSecret is returned (wrapped) when a PostgreSQL server has no signing
// secret configured.
var ErrNoSecret = errors.New("no signing secret")

// ParseSecret reads a secret written as base64 (standard or URL alphabet,
// padded or not) or hex, surrounded by any white space. The secret must be
// 32 bytes. Errors never show the value.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*SecretSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != SecretSize {
				return nil, fmt.Errorf("the signing secret is %d bytes, want %d (make one with: openssl rand -base64 32)", len(b), SecretSize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("the signing secret is neither base64 nor hex of %d bytes (make one with: openssl rand -base64 32)", SecretSize)
}

// ResolveSecret finds the signing secret for the database d, in this
// order: GATEHOUSE_SIGNING_SECRET (sg.Secret), then [signing] secret_file
// (setting both is an error). With neither, a SQLite database in a file
// gets a secret file beside it (made, mode 0600, on the first start and
// logged once), an in-memory one a random secret that lives as long as the
// process (and the database), and a PostgreSQL database none: an error
// wrapping ErrNoSecret, since every replica must share it.
func ResolveSecret(ctx context.Context, sg config.Signing, d *db.DB, log *slog.Logger) ([]byte, error) {
	if log == nil {
		log = slog.Default()
	}
	switch {
	case sg.Secret != "" && sg.SecretFile != "":
		return nil, fmt.Errorf("signing: both %s and signing.secret_file are set: set one", config.EnvSigningSecret)
	case sg.Secret != "":
		b, err := ParseSecret(sg.Secret)
		if err != nil {
			return nil, fmt.Errorf("signing: %s: %w", config.EnvSigningSecret, err)
		}
		return b, nil
	case sg.SecretFile != "":
		return readSecretFile(sg.SecretFile, "signing.secret_file", log)
	}
	if d.Driver != db.SQLite {
		return nil, fmt.Errorf("signing: %w: set signing.secret_file or %s to 32 random bytes in base64 "+
			"(openssl rand -base64 32), the same on every replica", ErrNoSecret, config.EnvSigningSecret)
	}
	path, err := sqliteFile(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if path == "" {
		b := make([]byte, SecretSize)
		_, _ = rand.Read(b)
		return b, nil
	}
	beside := path + SecretFileSuffix
	if _, err := os.Lstat(beside); errors.Is(err, fs.ErrNotExist) {
		// A database restored without its secret file must not get a new
		// secret beside keys sealed with the old one.
		n, err := d.Ent.SigningKey.Query().Count(viewer.System(ctx))
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		if n > 0 {
			return nil, fmt.Errorf("signing: %w: the database has signing keys but %s, the secret file that sealed them, is missing: "+
				"put it back beside the database (or name it with signing.secret_file, or set %s)", ErrNoSecret, beside, config.EnvSigningSecret)
		}
	}
	return secretBeside(beside, log)
}

// sqliteFile is the file of a SQLite database ("" in memory), as SQLite
// itself names it.
func sqliteFile(ctx context.Context, d *db.DB) (string, error) {
	rows, err := d.Read.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, rows.Err()
		}
	}
	return "", rows.Err()
}

// readSecretFile reads and parses a secret file; a file that others than
// its owner may read is used, with a warning.
func readSecretFile(path, what string, log *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing: %s: %w", what, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("signing: %s: %s is a directory", what, path)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the signing secret file may be read by others than its owner: chmod 600 it",
				"path", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("signing: %s: %w", what, err)
	}
	if len(raw) > maxSecretFile {
		return nil, fmt.Errorf("signing: %s: %s is longer than %d bytes: not a secret file", what, path, maxSecretFile)
	}
	b, err := ParseSecret(string(raw))
	if err != nil {
		return nil, fmt.Errorf("signing: %s (%s): %w", what, path, err)
	}
	return b, nil
}

// secretBeside reads the secret file made beside a SQLite database, or
// makes it. It is written whole to a temporary file and linked into place,
// so that two processes starting at once agree on one secret and neither
// reads a half-written file.
func secretBeside(path string, log *slog.Logger) ([]byte, error) {
	if _, err := os.Lstat(path); err == nil {
		return readSecretFile(path, "the secret file beside the database", log)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing: %w", err)
	}
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signing-secret-*")
	if err != nil {
		return nil, fmt.Errorf("signing: making the secret file beside the database: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(b) + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("signing: making the secret file beside the database: %w", err)
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// A file system without hard links: create it exclusively.
		err = writeExclusive(path, base64.StdEncoding.EncodeToString(b)+"\n")
	}
	if errors.Is(err, fs.ErrExist) {
		// Another process made it first: use theirs.
		return readSecretFile(path, "the secret file beside the database", log)
	} else if err != nil {
		return nil, fmt.Errorf("signing: making the secret file beside the database: %w", err)
	}
	log.Warn("created the signing secret file beside the database: it seals the signing keys; "+
		"back it up apart from the database (a backup holds the keys only sealed)", "path", path)
	return b, nil
}

// writeExclusive writes a new file (mode 0600); it fails with
// fs.ErrExist when the file exists.
func writeExclusive(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(content)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// sealer seals and opens private keys with a key derived from the secret.
type sealer struct{ aead cipher.AEAD }

const sealInfo = "gatehouse signing key seal v1"

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("signing: the secret is %d bytes, want %d", len(secret), SecretSize)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plain with the kid as additional data: nonce || ciphertext.
func (s *sealer) seal(plain []byte, kid string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(kid))
}

// errWrongSecret: the sealed key does not open with this secret.
var errWrongSecret = errors.New("the signing secret does not open the signing keys (was signing.secret_file or " +
	config.EnvSigningSecret + " changed, or the database restored without its secret?)")

func (s *sealer) open(sealed []byte, kid string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errWrongSecret
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, errWrongSecret
	}
	return plain, nil
}
