package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The TOTP seed is sealed with the secret Box under the context
// "totp:<user id>", so a sealed seed copied to another user's row does not
// open there.
func totpContext(userID string) string { return "totp:" + userID }

func (s *Service) openSeed(u *store.User) (string, error) {
	if u.TOTPSecret == "" {
		return "", ErrNoPendingTOTP
	}
	pt, err := s.box.Open(u.TOTPSecret, totpContext(u.ID))
	if err != nil {
		return "", fmt.Errorf("identity: opening TOTP seed of %s: %w", u.ID, err)
	}
	return string(pt), nil
}

// codeKeys are the keys a code attempt reserves: the address first (see
// reserve), then the user.
func (s *Service) codeKeys(userID, ip string) []throttleKey {
	var keys []throttleKey
	if k, ok := s.ipKey(ip); ok {
		keys = append(keys, k)
	}
	return append(keys, s.codeKey(userID))
}

// VerifySecondFactor checks a TOTP code, or a recovery code, for a user with
// two-factor enabled: the second step of signing in. A TOTP code is accepted
// once: its time step is recorded (store.UseTOTPStep, unique per user and
// step) and a second use is ErrCodeReused. A recovery code is consumed.
// Failures are throttled per user and per IP like passwords: the attempt is
// reserved before the code is looked at. It reports whether a recovery code
// was used.
func (s *Service) VerifySecondFactor(ctx context.Context, userID, code, ip string) (usedRecovery bool, err error) {
	now := s.time()
	a, err := s.reserve(ctx, now, s.codeKeys(userID, ip)...)
	if err != nil {
		return false, err
	}
	defer a.abandon(ctx)
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return false, err
	}
	if !u.TOTPEnabled || u.Disabled {
		return false, ErrInvalidCode
	}
	if looksLikeTOTP(code) {
		seed, err := s.openSeed(u)
		if err != nil {
			return false, err
		}
		step, ok := MatchTOTP(seed, code, now)
		if !ok {
			a.keep()
			s.audit(ctx, userEntry(audit.SecondFactorFailed, u.ID, true, map[string]any{"reason": "wrong_code"}))
			return false, ErrInvalidCode
		}
		if err := s.st.UseTOTPStep(ctx, u.ID, step, now); err != nil {
			if errors.Is(err, store.ErrAlreadyUsed) {
				a.keep()
				s.audit(ctx, userEntry(audit.SecondFactorFailed, u.ID, true, map[string]any{"reason": "code_reused"}))
				return false, ErrCodeReused
			}
			return false, err
		}
	} else {
		rc := normalizeRecoveryCode(code)
		if rc == "" {
			a.keep()
			s.audit(ctx, userEntry(audit.SecondFactorFailed, u.ID, true, map[string]any{"reason": "wrong_recovery_code"}))
			return false, ErrInvalidCode
		}
		if err := s.st.UseRecoveryCode(ctx, u.ID, s.recoveryHash(rc), now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				a.keep()
				s.audit(ctx, userEntry(audit.SecondFactorFailed, u.ID, true, map[string]any{"reason": "wrong_recovery_code"}))
				return false, ErrInvalidCode
			}
			return false, err
		}
		usedRecovery = true
		s.log.Info("recovery code used", "user_id", u.ID)
		s.audit(ctx, userEntry(audit.RecoveryCodeUsed, u.ID, false, nil))
	}
	a.succeeded(ctx)
	return usedRecovery, nil
}

func (s *Service) recoveryHash(normalized string) string {
	return s.hasher.Hash("recovery:" + normalized)
}

// BeginTOTP starts enrolment: a new seed is generated and stored sealed but
// not enabled; the user scans its QR code (or types the key) and confirms
// with a first code (ConfirmTOTP). Starting again replaces an unconfirmed
// seed. ErrTOTPEnabled when two-factor is already on.
func (s *Service) BeginTOTP(ctx context.Context, userID string) (TOTPKey, error) {
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return TOTPKey{}, err
	}
	if u.TOTPEnabled {
		return TOTPKey{}, ErrTOTPEnabled
	}
	key, err := newTOTPKey(s.cfg.TOTPIssuer, u.Email, s.random)
	if err != nil {
		return TOTPKey{}, err
	}
	sealed, err := s.box.Seal([]byte(key.Secret), totpContext(u.ID))
	if err != nil {
		return TOTPKey{}, err
	}
	if err := s.st.SetTOTP(ctx, u.ID, sealed, false, s.time()); err != nil {
		return TOTPKey{}, err
	}
	return key, nil
}

// PendingTOTP returns the key of an enrolment in progress (to show its QR
// code again). Once enrolment is confirmed the key is never shown again:
// ErrTOTPEnabled.
func (s *Service) PendingTOTP(ctx context.Context, userID string) (TOTPKey, error) {
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return TOTPKey{}, err
	}
	if u.TOTPEnabled {
		return TOTPKey{}, ErrTOTPEnabled
	}
	seed, err := s.openSeed(u)
	if err != nil {
		return TOTPKey{}, err
	}
	key, err := newTOTPKeyFromSecret(s.cfg.TOTPIssuer, u.Email, seed)
	if err != nil {
		return TOTPKey{}, err
	}
	return key, nil
}

// ConfirmTOTP finishes enrolment with a first code from the authenticator,
// which proves the seed was copied right; only then does two-factor take
// effect. It returns the recovery codes, to be shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code, ip string) ([]string, error) {
	now := s.time()
	a, err := s.reserve(ctx, now, s.codeKeys(userID, ip)...)
	if err != nil {
		return nil, err
	}
	defer a.abandon(ctx) // not judged: already enabled, nothing pending, a replayed code
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled {
		return nil, ErrTOTPEnabled
	}
	seed, err := s.openSeed(u)
	if err != nil {
		return nil, err
	}
	step, ok := MatchTOTP(seed, code, now)
	if !ok {
		a.keep()
		return nil, ErrInvalidCode
	}
	if err := s.st.UseTOTPStep(ctx, u.ID, step, now); err != nil {
		if errors.Is(err, store.ErrAlreadyUsed) {
			return nil, ErrCodeReused
		}
		return nil, err
	}
	codes, err := s.replaceRecoveryCodes(ctx, u.ID, now)
	if err != nil {
		return nil, err
	}
	if err := s.st.SetTOTP(ctx, u.ID, u.TOTPSecret, true, now); err != nil {
		return nil, err
	}
	a.succeeded(ctx)
	s.log.Info("two-factor enabled", "user_id", u.ID)
	s.audit(ctx, userEntry(audit.SecondFactorEnabled, u.ID, false, map[string]any{"method": "totp"}))
	return codes, nil
}

func (s *Service) replaceRecoveryCodes(ctx context.Context, userID string, now time.Time) ([]string, error) {
	codes, err := newRecoveryCodes(s.random, RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = s.recoveryHash(normalizeRecoveryCode(c))
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns two-factor off after checking the password again; the
// seed and the recovery codes are deleted.
func (s *Service) DisableTOTP(ctx context.Context, userID, password, ip string) error {
	u, err := s.reauthenticate(ctx, userID, password, ip)
	if err != nil {
		return err
	}
	now := s.time()
	if err := s.st.SetTOTP(ctx, u.ID, "", false, now); err != nil {
		return err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, u.ID, nil, now); err != nil {
		return err
	}
	s.log.Info("two-factor disabled", "user_id", u.ID)
	s.audit(ctx, userEntry(audit.SecondFactorDisabled, u.ID, false, nil))
	return nil
}

// RegenerateRecoveryCodes replaces the recovery codes after checking the
// password again, and returns the new ones (shown once).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID, password, ip string) ([]string, error) {
	u, err := s.reauthenticate(ctx, userID, password, ip)
	if err != nil {
		return nil, err
	}
	if !u.TOTPEnabled {
		return nil, ErrTOTPNotEnabled
	}
	return s.replaceRecoveryCodes(ctx, u.ID, s.time())
}

// RecoveryCodesLeft counts the unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return s.st.CountRecoveryCodes(ctx, userID)
}
