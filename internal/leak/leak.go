// Package leak is Gatehouse's response to leaked credentials: a public
// endpoint where anyone — a secret scanner, a stranger who found a token in a
// public repository — hands in Gatehouse credentials, and every one that is
// live is revoked at once (as GitHub's credential revocation API does).
//
//	POST /v0/credentials/revoke
//	Content-Type: application/json
//
//	{"credentials": ["gthp_…", "gthk_…", …]}
//
// The answer is always 202 with the same body, whether the list held live
// credentials, dead ones, strangers' strings or nothing at all, so the
// endpoint is no oracle for which tokens exist. Malformed strings (wrong
// prefix, length or checksum; see internal/credential) are skipped without a
// database lookup. Recognised kinds: personal access tokens (gthp_), API keys
// (gthk_), OAuth access tokens (gtha_) and refresh tokens (gthr_; revoking
// one revokes its whole grant), authorization codes (gthc_; the code is burnt
// and its grant revoked, as for a replayed code) and client secrets (gths_;
// the secret is deleted, the app's other secrets keep working).
//
// Requests are rate-limited per client address (an in-process token bucket
// per IPv4 address or IPv6 /64), and the work of all addresses together is
// bounded by a global budget of credential checks per second (LimitConfig);
// with several replicas each has its own buckets until a shared limiter
// exists.
package leak

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Store is the part of store.Store the service uses.
type Store interface {
	RevokePATByHash(ctx context.Context, hash string, at time.Time) error
	RevokeAPIKeyByHash(ctx context.Context, hash string, at time.Time) error
	// InTx runs a token's revocation and its grant's together (see
	// oauth.RevokeToken).
	InTx(ctx context.Context, fn func(tx store.Store) error) error
	DeleteClientSecretByHash(ctx context.Context, hash string) (clientID string, err error)
	ConsumeAuthCode(ctx context.Context, hash string, at time.Time) (*store.AuthCode, error)
	RevokeGrant(ctx context.Context, id string, at time.Time) error
}

// MaxCredentials is the most credentials one request may carry.
const MaxCredentials = 100

// maxCredentialLen: anything longer is not a Gatehouse credential.
const maxCredentialLen = 128

// Service revokes leaked credentials. Safe for concurrent use.
type Service struct {
	st     Store
	hasher *credential.Hasher
	now    func() time.Time
	log    *slog.Logger
}

// New builds the service.
func New(st Store, hasher *credential.Hasher, now func() time.Time, log *slog.Logger) (*Service, error) {
	if st == nil || hasher == nil || now == nil {
		return nil, errors.New("leak: store, hasher and clock are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, hasher: hasher, now: now, log: log}, nil
}

// Result counts what a call did; it is for logs and tests, never for the
// HTTP answer.
type Result struct {
	Received  int // strings handed in
	Checked   int // well-formed credentials of a revocable kind (deduplicated)
	Revoked   int // found (and now revoked, if they were not already)
	Malformed int
}

// Work is how many database operations Revoke(creds) will do: one per
// distinct well-formed credential (malformed strings are skipped without a
// lookup). The handler charges it to the global budget beforehand.
func (s *Service) Work(creds []string) int {
	seen := make(map[string]bool, len(creds))
	for _, c := range creds {
		if len(c) > maxCredentialLen || seen[c] {
			continue
		}
		if _, err := credential.Parse(c); err == nil {
			seen[c] = true
		}
	}
	return len(seen)
}

// Revoke revokes every live credential among creds. It tries all of them;
// the error (if any) is the first store failure other than "not found", in
// which case the caller should ask the client to retry.
func (s *Service) Revoke(ctx context.Context, creds []string) (Result, error) {
	res := Result{Received: len(creds)}
	at := s.now().UTC().Truncate(time.Millisecond)
	seen := make(map[string]bool, len(creds))
	var firstErr error
	fail := func(err error) {
		if err != nil && !errors.Is(err, store.ErrNotFound) && firstErr == nil {
			firstErr = err
		}
	}
	for _, c := range creds {
		if len(c) > maxCredentialLen {
			res.Malformed++
			continue
		}
		p, err := credential.Parse(c)
		if err != nil {
			res.Malformed++
			continue
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		hash := s.hasher.Hash(c)
		switch p.Kind {
		case credential.PAT, credential.APIKey:
			res.Checked++
			revoke := s.st.RevokePATByHash
			if p.Kind == credential.APIKey {
				revoke = s.st.RevokeAPIKeyByHash
			}
			err := revoke(ctx, hash, at)
			fail(err)
			if err == nil {
				res.Revoked++
				s.log.WarnContext(ctx, "leaked credential revoked", "kind", p.Kind.String(), "hash_prefix", hash[:12])
			}
		case credential.AccessToken, credential.RefreshToken:
			res.Checked++
			// A refresh token takes its grant (so its access tokens) along.
			t, err := oauth.RevokeToken(ctx, s.st, hash, at)
			fail(err)
			if err == nil && t != nil {
				res.Revoked++
				s.log.WarnContext(ctx, "leaked credential revoked", "kind", p.Kind.String(), "token_id", t.ID, "client_id", t.ClientID, "user_id", t.UserID, "grant_id", t.GrantID)
			}
		case credential.ClientSecret:
			// The app must deploy another secret (client rotation); its other
			// secrets keep working. Replicas that cached the client may accept
			// the deleted secret for up to client_cache_ttl.
			res.Checked++
			clientID, err := s.st.DeleteClientSecretByHash(ctx, hash)
			fail(err)
			if err == nil {
				res.Revoked++
				s.log.WarnContext(ctx, "leaked credential revoked", "kind", p.Kind.String(), "client_id", clientID)
			}
		case credential.AuthCode:
			// Burn the code and, as for a replayed code (RFC 6749 §4.1.2),
			// revoke every token already issued from it.
			res.Checked++
			code, err := s.st.ConsumeAuthCode(ctx, hash, at)
			if errors.Is(err, store.ErrAlreadyUsed) {
				err = nil
			}
			fail(err)
			if err == nil && code != nil {
				err = s.st.RevokeGrant(ctx, code.GrantID, at)
				fail(err)
				if err == nil {
					res.Revoked++
					s.log.WarnContext(ctx, "leaked credential revoked", "kind", p.Kind.String(), "client_id", code.ClientID, "user_id", code.UserID, "grant_id", code.GrantID)
				}
			}
		}
	}
	return res, firstErr
}
