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

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/audit"
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
// ErrInvalidEmail, ErrInvalidName, *PolicyError, ErrEmailTaken, *BusyError.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*store.User, error) {
	u, err := s.checkNewUser(in)
	if err != nil {
		return nil, err
	}
	return s.insertUser(ctx, u, in.Password)
}

// checkNewUser applies every input rule (cheap: no hashing) and returns the
// account to create, without its password hash.
func (s *Service) checkNewUser(in NewUser) (*store.User, error) {
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
	return &store.User{Email: email, Name: name, Admin: in.Admin}, nil
}

// insertUser hashes the password and stores the account checked by
// checkNewUser.
func (s *Service) insertUser(ctx context.Context, u *store.User, password string) (*store.User, error) {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return nil, fmt.Errorf("identity: user id: %w", err)
	}
	now := s.time()
	u.ID, u.PasswordHash = id.String(), hash
	u.CredentialsChangedAt, u.CreatedAt, u.UpdatedAt = now, now, now
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
// The sign-up is reserved before the password is hashed, so parallel
// requests from one address cannot all pass the count. An existing email
// returns ErrEmailTaken after the same work (the password is hashed first),
// so the caller can answer it exactly like a success; it counts too.
func (s *Service) SignUp(ctx context.Context, in NewUser, ip string) (*store.User, error) {
	in.Admin = false
	u, err := s.checkNewUser(in)
	if err != nil {
		return nil, err
	}
	k, limited := s.signupKey(ip)
	if !limited {
		return s.insertUser(ctx, u, in.Password)
	}
	a, err := s.reserve(ctx, s.time(), k)
	if err != nil {
		return nil, err
	}
	defer a.abandon(ctx) // nothing was created: a store error, or busy
	u, err = s.insertUser(ctx, u, in.Password)
	if err == nil || errors.Is(err, ErrEmailTaken) {
		a.keep()
	}
	return u, err
}

// hash computes a new argon2id hash of the password inside the hash limiter.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var (
		h    string
		herr error
	)
	if err := s.hashes.Do(ctx, func() {
		h, herr = HashPassword(NormalizePassword(password), s.cfg.Argon2, s.random)
	}); err != nil {
		return "", err
	}
	return h, herr
}

// verify checks a password against a stored hash (or the dummy hash when
// stored is ""), always spending one argon2id computation, inside the hash
// limiter. The error is a *BusyError (or the context's): nothing was checked.
func (s *Service) verify(ctx context.Context, password, stored string) (bool, error) {
	var ok bool
	err := s.hashes.Do(ctx, func() {
		switch {
		case len(password) > 2*maxPasswordBytes:
			// Never a valid password; still spend the same time.
			_, _ = VerifyPassword("", s.dummyHash)
		case stored == "":
			_, _ = VerifyPassword(NormalizePassword(password), s.dummyHash)
		default:
			var err error
			if ok, err = VerifyPassword(NormalizePassword(password), stored); err != nil {
				s.log.Error("stored password hash unreadable", "err", err)
				ok = false
			}
		}
	})
	return ok, err
}

// CheckPassword is the password step of signing in. It returns the user when
// the email and password are right and the account is enabled; otherwise
// ErrInvalidCredentials (the same for all three causes, after the same
// argon2id work), a *ThrottledError (refused before any work: the address or
// the account has too many recent failures) or a *BusyError (no hashing
// capacity now; not counted). It does not look at two-factor: the caller
// checks User.TOTPEnabled and asks for the code.
//
// The attempt is reserved on the address and account keys before the hash is
// computed; a wrong password keeps both reservations as failures, a right
// one clears the account key and refunds the address key.
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
	var keys []throttleKey
	if k, ok := s.ipKey(ip); ok {
		keys = append(keys, k)
	}
	keys = append(keys, s.accountKey(addr))
	a, terr := s.reserve(ctx, now, keys...)
	if terr != nil {
		var te *ThrottledError
		if errors.As(terr, &te) {
			s.cfg.Activity.Add(activity.SignInLockout, now)
		}
		return nil, terr
	}
	defer a.abandon(ctx)
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
	ok, err := s.verify(ctx, password, stored)
	if err != nil {
		return nil, err
	}
	if !ok || u == nil || u.Disabled {
		a.keep()
		// The reason stays in the audit log; the answer is the same for all.
		reason, id := "wrong_password", ""
		switch {
		case u == nil:
			reason = "unknown_account"
		case u.Disabled:
			id, reason = u.ID, "account_disabled"
		default:
			id = u.ID
		}
		s.audit(ctx, userEntry(audit.SignIn, id, true, map[string]any{"reason": reason, "email": addr, "factor": "password"}))
		s.cfg.Activity.Add(activity.SignInFailure, now)
		return nil, ErrInvalidCredentials
	}
	a.succeeded(ctx)
	s.audit(ctx, userEntry(audit.SignIn, u.ID, false, map[string]any{"factor": "password"}))
	s.cfg.Activity.Add(activity.SignInSuccess, now)
	if NeedsRehash(u.PasswordHash, s.cfg.Argon2) {
		if h, err := s.hash(ctx, password); err == nil {
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
		a, err := s.reserve(ctx, s.time(), s.codeKeys(u.ID, ip)...)
		if err != nil {
			return nil, err
		}
		a.keep()
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
	hash, err := s.hash(ctx, next)
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
	s.audit(ctx, userEntry(audit.PasswordChanged, u.ID, false, map[string]any{"sessions_ended": true}))
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

// SetUserDisabled disables (or re-enables) the account with this email,
// by the same rule as the console and admin API (Admin.Disable / Enable).
func (s *Service) SetUserDisabled(ctx context.Context, email string, disabled bool) (*store.User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if disabled {
		return s.Admin().Disable(ctx, "cli", u.ID)
	}
	return s.Admin().Enable(ctx, "cli", u.ID)
}
