package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// badTexts are strings PostgreSQL's TEXT refuses (SQLSTATE 22021) and SQLite
// stores as bytes.
var badTexts = map[string]string{
	"0xFF": "id-\xff",
	"NUL":  "id-\x00",
}

// textOK accepts the answers a store may give to invalid text: the
// operation's normal "nothing there" (ErrNotFound), or ErrInvalidText — never
// a raw driver error, which handlers would answer with 500.
func textOK(t *testing.T, op string, err error, allowNil bool) {
	t.Helper()
	switch {
	case err == nil && allowNil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidText):
	default:
		t.Errorf("%s: error = %v, want store.ErrNotFound or store.ErrInvalidText", op, err)
	}
}

// testInvalidTextLookups: every lookup by an id, hash, email or key that is
// not valid text finds nothing, on every backend.
func testInvalidTextLookups(t *testing.T, f *fixture) {
	w := f.world() // real rows, so a lookup cannot succeed by accident
	for name, bad := range badTexts {
		t.Run(name, func(t *testing.T) {
			ctx := f.ctx
			lookups := map[string]func() error{
				"UserByID":     func() error { _, err := f.s.UserByID(ctx, bad); return err },
				"UserByEmail":  func() error { _, err := f.s.UserByEmail(ctx, bad); return err },
				"ClientByID":   func() error { _, err := f.s.ClientByID(ctx, bad); return err },
				"SessionByID":  func() error { _, err := f.s.SessionByID(ctx, bad); return err },
				"Consent":      func() error { _, err := f.s.Consent(ctx, w.u.ID, bad); return err },
				"GrantByID":    func() error { _, err := f.s.GrantByID(ctx, bad); return err },
				"TokenByHash":  func() error { _, err := f.s.TokenByHash(ctx, bad); return err },
				"PATByHash":    func() error { _, err := f.s.PATByHash(ctx, bad); return err },
				"APIKeyByHash": func() error { _, err := f.s.APIKeyByHash(ctx, bad); return err },
				"RevokePAT":    func() error { return f.s.RevokePAT(ctx, w.u.ID, bad, f.now) },
				"RevokeAPIKey": func() error { return f.s.RevokeAPIKey(ctx, w.c.ID, bad, f.now) },
			}
			for op, fn := range lookups {
				textOK(t, op, fn(), false)
			}
			// A throttle key that is not text has no failures recorded.
			n, _, err := f.s.Failures(ctx, bad, f.now, time.Hour)
			textOK(t, "Failures", err, true)
			if n != 0 {
				t.Errorf("Failures(%q) = %d, want 0", bad, n)
			}
		})
	}
}

// testInvalidTextWrite: a write of text PostgreSQL refuses comes back as
// ErrInvalidText and leaves nothing behind; SQLite may store it. Either way
// the store never answers with a raw driver error.
func testInvalidTextWrite(t *testing.T, f *fixture) {
	u := f.user()
	for name, bad := range badTexts {
		t.Run(name, func(t *testing.T) {
			s := &store.Session{
				ID: f.id("sess"), UserID: u.ID, CSRFSecret: "c", UserAgent: "agent " + bad, IP: "192.0.2.1",
				CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.at(time.Hour),
			}
			err := f.s.CreateSession(context.WithoutCancel(f.ctx), s)
			switch {
			case err == nil:
				got, gerr := f.s.SessionByID(f.ctx, s.ID)
				must(t, gerr)
				if got.UserAgent != s.UserAgent {
					t.Fatalf("UserAgent = %q, want %q", got.UserAgent, s.UserAgent)
				}
			case errors.Is(err, store.ErrInvalidText):
				_, gerr := f.s.SessionByID(f.ctx, s.ID)
				wantErr(t, gerr, store.ErrNotFound)
			default:
				t.Fatalf("CreateSession: error = %v, want nil or store.ErrInvalidText", err)
			}
		})
	}
}
