package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/store"
)

// MaxNameRunes bounds display names.
const MaxNameRunes = 100

// NormalizeEmail trims, NFC-normalises and lower-cases an address, and checks
// that it looks like local@domain. Uniqueness is on this form, so
// "Alice@Example.com" and "alice@example.com" are one account.
//
// Validity is checked on the input, before lower-casing: strings.ToLower
// turns invalid bytes into U+FFFD, which would make "b\xff@x.y" an address.
func NormalizeEmail(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	if len(s) > 254 {
		return "", ErrInvalidEmail
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", ErrInvalidEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' {
			return "", ErrInvalidEmail
		}
	}
	return s, nil
}

func normalizeName(s string) (string, error) {
	s = norm.NFC.String(strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > MaxNameRunes || !utf8.ValidString(s) {
		return "", ErrInvalidName
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", ErrInvalidName
		}
	}
	return s, nil
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Email    string
	Name     string
	Password string
	Admin    bool
}

// CheckNewPassword applies the password policy for this email and name.
func (s *Service) CheckNewPassword(password, email, name string) error {
	if len(password) > maxPasswordBytes {
		return &PolicyError{"too_long", fmt.Sprintf("Use at most %d characters.", MaxPasswordRunes)}
	}
	return s.list.CheckPassword(NormalizePassword(password), email, name, s.cfg.TOTPIssuer, "gatehouse")
}

// CreateUser validates and stores a new account (CLI and sign-up). Errors:
// ErrInvalidEmail, ErrInvalidName, *PolicyError, ErrEmailTaken.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*store.User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	name, err := normalizeName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := s.CheckNewPassword(in.Password, email, name); err != nil {
		return nil, err
	}
	hash, err := HashPassword(NormalizePassword(in.Password), s.cfg.Argon2, s.random)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return nil, fmt.Errorf("identity: user id: %w", err)
	}
	now := s.time()
	u := &store.User{
		ID:                   id.String(),
		Email:                email,
		Name:                 name,
		PasswordHash:         hash,
		Admin:                in.Admin,
		CredentialsChangedAt: now,
		CreatedAt:            now,
		UpdatedAt:            now,
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrEmailTaken
		}
		return nil, err
	}
	s.log.Info("user created", "user_id", u.ID, "admin", u.Admin)
	return u, nil
}

// SignUp creates an account from the public sign-up form. It is throttled
// per client IP (ThrottledError): SignupsPerIP accounts per SignupWindow,
// counting attempts that reached the database (input errors do not count).
// An existing email returns ErrEmailTaken after the same work (the password
// is hashed first), so the caller can answer it exactly like a success.
func (s *Service) SignUp(ctx context.Context, in NewUser, ip string) (*store.User, error) {
	in.Admin = false
	now := s.time()
	k, limited := s.ipKey(ip)
	if limited {
		k.key = "signup:" + k.key
		n, _, err := s.st.Failures(ctx, k.key, now, s.cfg.Throttle.SignupWindow)
		if err != nil {
			return nil, err
		}
		if n >= s.cfg.Throttle.SignupsPerIP {
			return nil, &ThrottledError{RetryAfter: s.cfg.Throttle.SignupWindow}
		}
	}
	u, err := s.CreateUser(ctx, in)
	if limited && (err == nil || errors.Is(err, ErrEmailTaken)) {
		if _, rerr := s.st.RecordFailure(ctx, k.key, now, s.cfg.Throttle.SignupWindow); rerr != nil {
			s.log.Error("counting sign-up", "err", rerr)
		}
	}
	return u, err
}

// verify checks a password against a stored hash (or the dummy hash when
// stored is ""), always spending one argon2id computation.
func (s *Service) verify(password, stored string) bool {
	if len(password) > 2*maxPasswordBytes {
		// Never a valid password; still spend the same time.
		_, _ = VerifyPassword("", s.dummyHash)
		return false
	}
	if stored == "" {
		_, _ = VerifyPassword(NormalizePassword(password), s.dummyHash)
		return false
	}
	ok, err := VerifyPassword(NormalizePassword(password), stored)
	if err != nil {
		s.log.Error("stored password hash unreadable", "err", err)
		return false
	}
	return ok
}

// CheckPassword is the password step of signing in. It returns the user when
// the email and password are right and the account is enabled; otherwise
// ErrInvalidCredentials (the same for all three causes, after the same
// argon2id work) or a *ThrottledError. It does not look at two-factor: the
// caller checks User.TOTPEnabled and asks for the code.
//
// A correct password stored with old argon2 parameters is re-hashed.
func (s *Service) CheckPassword(ctx context.Context, email, password, ip string) (*store.User, error) {
	now := s.time()
	addr, err := NormalizeEmail(email)
	if err != nil {
		addr = strings.ToLower(strings.TrimSpace(email))
		if len(addr) > 254 {
			addr = addr[:254]
		}
	}
	keys := []throttleKey{s.accountKey(addr)}
	if k, ok := s.ipKey(ip); ok {
		keys = append(keys, k)
	}
	counts, terr := s.checkThrottle(ctx, now, keys...)
	if terr != nil {
		s.verify(password, "") // same work as any other answer
		return nil, terr
	}
	var u *store.User
	if err == nil {
		u, err = s.st.UserByEmail(ctx, addr)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	stored := ""
	if u != nil {
		stored = u.PasswordHash
	}
	if !s.verify(password, stored) || u == nil || u.Disabled {
		s.recordFailure(ctx, now, keys...)
		return nil, ErrInvalidCredentials
	}
	s.clearFailures(ctx, counts, keys)
	if NeedsRehash(u.PasswordHash, s.cfg.Argon2) {
		if h, err := HashPassword(NormalizePassword(password), s.cfg.Argon2, s.random); err == nil {
			if err := s.st.UpdatePassword(ctx, u.ID, h, false, now); err != nil {
				s.log.Error("re-hashing password", "user_id", u.ID, "err", err)
			} else {
				u.PasswordHash = h
				s.log.Info("password re-hashed with new parameters", "user_id", u.ID)
			}
		}
	}
	return u, nil
}

// reauthenticate checks the signed-in user's password again before a
// sensitive change, with the same throttling as sign-in.
func (s *Service) reauthenticate(ctx context.Context, userID, password, ip string) (*store.User, error) {
	u, err := s.st.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	got, err := s.CheckPassword(ctx, u.Email, password, ip)
	if err != nil {
		return nil, err
	}
	if got.ID != u.ID {
		return nil, ErrInvalidCredentials
	}
	return got, nil
}

// AuthenticateBasic authenticates an API request made with HTTP Basic
// email:password and, for accounts with two-factor, the OTP-Token header
// (seed 004). Errors: ErrInvalidCredentials, ErrOTPRequired (no code sent
// while one is needed), ErrInvalidCode / ErrCodeReused (wrong or replayed
// code), *ThrottledError. Each TOTP code is accepted once, so a script makes
// one request per code — typically to create a personal access token.
func (s *Service) AuthenticateBasic(ctx context.Context, email, password, otp, ip string) (*store.User, error) {
	u, err := s.CheckPassword(ctx, email, password, ip)
	if err != nil {
		return nil, err
	}
	if !u.TOTPEnabled {
		return u, nil
	}
	if strings.TrimSpace(otp) == "" {
		return nil, ErrOTPRequired
	}
	if !looksLikeTOTP(otp) {
		// Recovery codes are for the web sign-in only.
		if err := s.checkCodeThrottle(ctx, u.ID, ip); err != nil {
			return nil, err
		}
		s.recordFailure(ctx, s.time(), s.codeKeys(u.ID, ip)...)
		return nil, ErrInvalidCode
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, otp, ip); err != nil {
		return nil, err
	}
	return u, nil
}

// ChangePassword verifies the current password, applies the policy to the
// new one, stores it and ends ALL the user's sessions (User.CredentialsChangedAt
// moves forward, which also retires credentials bound to it). The caller
// starts a fresh session for the browser that made the change.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, ip string) error {
	u, err := s.reauthenticate(ctx, userID, current, ip)
	if err != nil {
		return err
	}
	if err := s.CheckNewPassword(next, u.Email, u.Name); err != nil {
		return err
	}
	hash, err := HashPassword(NormalizePassword(next), s.cfg.Argon2, s.random)
	if err != nil {
		return err
	}
	now := s.time()
	if err := s.st.UpdatePassword(ctx, u.ID, hash, true, now); err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, u.ID, ""); err != nil {
		return err
	}
	s.log.Info("password changed; sessions ended", "user_id", u.ID)
	return nil
}

// UserByID returns the account.
func (s *Service) UserByID(ctx context.Context, id string) (*store.User, error) {
	return s.st.UserByID(ctx, id)
}

// UserByEmail returns the account with this (normalised) email.
func (s *Service) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	return s.st.UserByEmail(ctx, e)
}

// ListUsers lists all accounts.
func (s *Service) ListUsers(ctx context.Context) ([]store.User, error) {
	return s.st.ListUsers(ctx)
}

// SetUserDisabled disables (or re-enables) the account with this email.
// Disabling ends its sessions at once; the store moves CredentialsChangedAt,
// which retires its other credentials.
func (s *Service) SetUserDisabled(ctx context.Context, email string, disabled bool) (*store.User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	now := s.time()
	if err := s.st.SetDisabled(ctx, u.ID, disabled, now); err != nil {
		return nil, err
	}
	if disabled {
		if err := s.st.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return nil, err
		}
	}
	u.Disabled = disabled
	s.log.Info("user disabled state changed", "user_id", u.ID, "disabled", disabled)
	return u, nil
}
