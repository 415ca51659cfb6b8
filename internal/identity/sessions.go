package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/safetext"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Sessions. The browser's cookie holds 256 random bits; the database holds
// only their keyed hash (Session.ID), so a database dump cannot be replayed
// as a cookie. A session ends when it is idle for SessionIdleTimeout, at its
// absolute expiry (SessionLifetime after sign-in), when the user signs out or
// ends it from another browser, when the password changes, or when the account
// is disabled. A session that still owes its second factor (MFAPending) lives
// MFAPendingTimeout and authenticates nothing.

// NewRandomToken returns 256 random bits, base64url-encoded (43 characters),
// from the service's random source: for cookie values and similar secrets.
func (s *Service) NewRandomToken() (string, error) { return s.randomToken() }

func (s *Service) randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", fmt.Errorf("identity: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SessionID is the stored id (keyed hash) of a cookie value.
func (s *Service) SessionID(cookie string) string {
	return s.hasher.Hash("session:" + cookie)
}

// SessionHandle is a public, stable name for a session, used in forms that
// end one session from the session list. It reveals nothing about the
// cookie or the stored id.
func (s *Service) SessionHandle(sess *store.Session) string {
	return s.hasher.Hash("session-handle:" + sess.ID)[:24]
}

// StartSession creates a session and returns the cookie value to set. A new
// random value is drawn at every sign-in (no session fixation). mfaPending
// marks the first half of a two-factor sign-in.
func (s *Service) StartSession(ctx context.Context, userID string, mfaPending bool, userAgent, ip string) (string, *store.Session, error) {
	cookie, err := s.randomToken()
	if err != nil {
		return "", nil, err
	}
	csrf, err := s.randomToken()
	if err != nil {
		return "", nil, err
	}
	now := s.time()
	life := s.cfg.SessionLifetime
	if mfaPending {
		life = s.cfg.MFAPendingTimeout
	}
	sess := &store.Session{
		ID:         s.SessionID(cookie),
		UserID:     userID,
		CSRFSecret: csrf,
		MFAPending: mfaPending,
		// Header values are not refused (a browser cannot be asked to change
		// its User-Agent, and a correct sign-in must not fail over it) but
		// made storable: invalid bytes and control characters become U+FFFD.
		UserAgent:  safetext.Sanitize(userAgent, 256),
		IP:         safetext.Sanitize(ip, 64),
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(life),
	}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return cookie, sess, nil
}

// Session returns the live session of a cookie value and its user, or
// ErrNoSession. Expired sessions are deleted on sight. LastSeenAt is written
// at most once per SessionTouchInterval.
func (s *Service) Session(ctx context.Context, cookie string) (*store.Session, *store.User, error) {
	if cookie == "" || len(cookie) > 128 {
		return nil, nil, ErrNoSession
	}
	sess, err := s.st.SessionByID(ctx, s.SessionID(cookie))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.time()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.SessionIdleTimeout {
		if err := s.st.DeleteSession(ctx, sess.ID); err != nil {
			s.log.Error("deleting expired session", "err", err)
		}
		return nil, nil, ErrNoSession
	}
	u, err := s.st.UserByID(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || sess.CreatedAt.Before(u.CredentialsChangedAt) {
		return nil, nil, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.SessionTouchInterval {
		if err := s.st.TouchSession(ctx, sess.ID, now); err != nil {
			s.log.Error("touching session", "err", err)
		} else {
			sess.LastSeenAt = now
		}
	}
	return sess, u, nil
}

// EndSession deletes a session (sign-out).
func (s *Service) EndSession(ctx context.Context, sessionID string) error {
	err := s.st.DeleteSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// SignOut ends the session the user signs out of, and records it. Other
// ends of a session (a sign-in replacing the browser's previous session, a
// pending sign-in superseded) go through EndSession and are not sign-outs.
func (s *Service) SignOut(ctx context.Context, sess *store.Session) error {
	if err := s.EndSession(ctx, sess.ID); err != nil {
		return err
	}
	if !sess.MFAPending {
		s.audit(ctx, userEntry(audit.SignOut, sess.UserID, false, map[string]any{"sessions": "this"}))
	}
	return nil
}

// ListSessions lists the user's live sessions (pending ones excluded).
func (s *Service) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	all, err := s.st.ListUserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.time()
	out := all[:0]
	for _, sess := range all {
		if sess.MFAPending || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.SessionIdleTimeout {
			continue
		}
		out = append(out, sess)
	}
	return out, nil
}

// EndSessionByHandle ends one of the user's sessions by its SessionHandle;
// store.ErrNotFound when the user has no such session.
func (s *Service) EndSessionByHandle(ctx context.Context, userID, handle string) error {
	all, err := s.st.ListUserSessions(ctx, userID)
	if err != nil {
		return err
	}
	for i := range all {
		if s.SessionHandle(&all[i]) == handle {
			if err := s.EndSession(ctx, all[i].ID); err != nil {
				return err
			}
			s.audit(ctx, userEntry(audit.SignOut, userID, false, map[string]any{"sessions": "one"}))
			return nil
		}
	}
	return store.ErrNotFound
}

// EndOtherSessions ends every session of the user except keepID.
func (s *Service) EndOtherSessions(ctx context.Context, userID, keepID string) error {
	if err := s.st.DeleteUserSessions(ctx, userID, keepID); err != nil {
		return err
	}
	s.audit(ctx, userEntry(audit.SignOut, userID, false, map[string]any{"sessions": "all_others"}))
	return nil
}

// CompleteSignIn finishes a two-factor sign-in: the pending session is
// replaced by a full one with a new cookie value (the session id changes when
// privilege changes). It returns the new cookie value.
func (s *Service) CompleteSignIn(ctx context.Context, pending *store.Session, userAgent, ip string) (string, *store.Session, error) {
	if err := s.EndSession(ctx, pending.ID); err != nil {
		return "", nil, err
	}
	return s.StartSession(ctx, pending.UserID, false, userAgent, ip)
}

// PurgeExpiredSessions removes sessions past their absolute expiry (call it
// periodically).
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	return s.st.DeleteExpiredSessions(ctx, s.time())
}
