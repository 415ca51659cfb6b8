package authn

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// RevokedError is a validator's refusal of a credential that exists and was
// revoked (as opposed to one that is unknown, expired or malformed). It is
// an ErrInvalidToken like the others — the client is told no more — but
// Validate records its audit entry: someone still holds a credential that
// was taken away, and may be the reason it was.
type RevokedError struct {
	// Description is safe to show the client (as TokenError's).
	Description string
	// Credential identifies the credential (its kind and id): the audit
	// entries of one credential are spaced by RevokedUseInterval.
	Credential string
	// Entry is the audit entry to record: type, actor, subject, details.
	// The request's client address and user agent are added by the log.
	Entry audit.Entry
}

func (e *RevokedError) Error() string        { return "invalid_token: revoked: " + e.Credential }
func (e *RevokedError) Is(target error) bool { return target == ErrInvalidToken }

// RevokedUseInterval: a revoked credential's use is audited at most once in
// this interval, so a client hammering a revoked key cannot flood the log.
const RevokedUseInterval = time.Minute

// maxRevokedTracked bounds the memory of when each revoked credential was
// last audited. Past it, uses of further credentials go unrecorded until
// the interval frees room (logged): the log's flood bound comes first.
const maxRevokedTracked = 100_000

// revokedUses remembers, per credential, when its use after revocation was
// last audited. It is per process: each replica records at most one entry
// per credential per interval.
type revokedUses struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// admit reports whether a use of credential at now is to be recorded, and
// if so remembers it.
func (u *revokedUses) admit(credential string, now time.Time) (ok, full bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if t, seen := u.last[credential]; seen && now.Sub(t) < RevokedUseInterval {
		return false, false
	}
	if len(u.last) >= maxRevokedTracked {
		for c, t := range u.last {
			if now.Sub(t) >= RevokedUseInterval {
				delete(u.last, c)
			}
		}
		if len(u.last) >= maxRevokedTracked {
			return false, true
		}
	}
	u.last[credential] = now
	return true, false
}

// auditRevoked records the use of a revoked credential, at most once per
// RevokedUseInterval per credential. Validation is a read path: the entry
// goes in a transaction of its own (RecordAfter), and only refusals of
// revoked credentials ever write — a valid credential's request writes
// nothing.
func (a *Authenticator) auditRevoked(ctx context.Context, re *RevokedError, clientAddr string) {
	if a.cfg.Audit == nil {
		return
	}
	ok, full := a.revoked.admit(re.Credential, a.cfg.Now())
	if full {
		a.log.Warn("authn: too many revoked credentials in use to audit each", "credential", re.Credential)
	}
	if !ok {
		return
	}
	// Outside the HTTP server's audit middleware (or with no request at
	// all) the address comes from the request itself, when there is one.
	if m := audit.MetaFrom(ctx); m.ClientAddr == "" && clientAddr != "" {
		m.ClientAddr = clientAddr
		ctx = audit.WithMeta(ctx, m)
	}
	e := re.Entry
	e.Failed = true
	a.cfg.Audit.RecordAfter(ctx, e)
}
