package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/signing"
)

const keysUsage = `Usage:
  gatehouse keys list     [--config FILE] [--db PATH_OR_DSN]
  gatehouse keys rotate   [--config FILE] [--db PATH_OR_DSN]
  gatehouse keys retire   [--config FILE] [--db PATH_OR_DSN] [--] KID

Manages the keys that sign entitlement tokens. Private keys are never shown.
Run "gatehouse keys COMMAND --help" for details.
`

func (e *env) keys(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, keysUsage)
		return errUsage
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, keysUsage)
		return nil
	case "list":
		err = e.keysList(args[1:])
	case "rotate":
		err = e.keysRotate(args[1:])
	case "retire":
		err = e.keysRetire(args[1:])
	default:
		fmt.Fprintf(e.stderr, "gatehouse keys: unknown command %q\n\n%s", args[0], keysUsage)
		return errUsage
	}
	return &cmdError{cmd: "keys " + args[0], err: err}
}

// openSigner opens the database (which must exist, with a current schema)
// and the keys in it; withSecret also finds the signing secret and checks
// that it opens the current key.
func (e *env) openSigner(f *flags, withSecret bool) (*signing.Signer, func(), error) {
	a, err := e.openApp(f, false)
	if err != nil {
		return nil, nil, err
	}
	var secret []byte
	if withSecret {
		if secret, err = signing.ResolveSecret(e.ctx, a.Config.Signing, a.DB, a.Logger); err != nil {
			a.Close()
			return nil, nil, err
		}
	}
	s, err := signing.New(a.DB.Ent, secret, app.SigningOptions(a.Config, a.Logger, time.Now))
	if err == nil && withSecret {
		err = s.Verify(e.ctx)
	}
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return s, func() { a.Close() }, nil
}

func (e *env) keysList(args []string) error {
	f := e.newFlags("keys list", "keys list [--config FILE] [--db PATH_OR_DSN]",
		"Lists the signing keys, newest first: kid, algorithm, when made, state\n(current, published, expired, retired) and until when a key that no longer\nsigns stays published. Needs no signing secret.", true)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	s, done, err := e.openSigner(f, false)
	if err != nil {
		return err
	}
	defer done()
	keys, err := s.List(e.ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no signing keys yet: the server makes the first when it starts")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tCREATED\tSTATE\tPUBLISHED UNTIL")
	for _, k := range keys {
		until := "-"
		switch {
		case k.State == signing.StateCurrent:
			until = "while current"
		case k.State == signing.StateRetired:
			until = "retired " + k.RetiredAt.UTC().Format(time.RFC3339)
		case k.PublishedUntil != nil:
			until = k.PublishedUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Kid, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339), k.State, until)
	}
	return w.Flush()
}

func (e *env) keysRotate(args []string) error {
	f := e.newFlags("keys rotate", "keys rotate [--config FILE] [--db PATH_OR_DSN]",
		"Makes a new current signing key; every server signs with it from its next\ntoken on. The key it replaces stays published for signing.max_ttl, until the\ntokens it signed have expired. Needs the signing secret the servers use.", true)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	s, done, err := e.openSigner(f, true)
	if err != nil {
		return err
	}
	defer done()
	k, err := s.Rotate(e.ctx)
	if err != nil {
		return describe(e.ctx, err)
	}
	fmt.Fprintf(e.stdout, "new current key %s\n", k.Kid)
	return nil
}

func (e *env) keysRetire(args []string) error {
	f := e.newFlags("keys retire", "keys retire [--config FILE] [--db PATH_OR_DSN] [--] KID",
		"Stops publishing a key at once: tokens it signed no longer verify once\nclients refetch the JWKS. The current key cannot be retired: rotate first.\nA kid may start with -: write -- before it.", true)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	s, done, err := e.openSigner(f, false)
	if err != nil {
		return err
	}
	defer done()
	if _, err := s.Retire(e.ctx, pos[0]); err != nil {
		return describe(e.ctx, err)
	}
	fmt.Fprintf(e.stdout, "retired key %s: it is no longer published\n", pos[0])
	return nil
}
