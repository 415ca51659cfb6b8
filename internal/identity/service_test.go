package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	email    = "Alice@Example.com"
	password = "vivid otter anchors the lamp"
	ip       = "203.0.113.7"
)

var ctx = context.Background()

func TestSignUpNormalisesAndHidesDuplicates(t *testing.T) {
	e := identitytest.New(t)
	u, err := e.Service.SignUp(ctx, identity.NewUser{Email: "  Alice@Example.COM ", Name: "Alice", Password: password}, ip)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@example.com" || u.Admin || u.PasswordHash == "" || strings.Contains(u.PasswordHash, password) {
		t.Fatalf("unexpected user %+v", u)
	}
	_, err = e.Service.SignUp(ctx, identity.NewUser{Email: "ALICE@example.com", Password: "another fine passphrase"}, ip)
	if !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("duplicate (case-insensitive) email: %v", err)
	}
	for _, bad := range []identity.NewUser{
		{Email: "not-an-email", Password: password},
		{Email: "a@b.c", Password: "short"},
		{Email: "a@b.c", Password: "password123"},
		{Email: "a@b.c", Name: strings.Repeat("n", 101), Password: password},
	} {
		if _, err := e.Service.SignUp(ctx, bad, ip); err == nil {
			t.Errorf("sign-up %+v accepted", bad)
		}
	}
}

func TestSignUpThrottledPerIP(t *testing.T) {
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) { c.Throttle.SignupsPerIP = 3 }))
	for i := 0; i < 3; i++ {
		if _, err := e.Service.SignUp(ctx, identity.NewUser{Email: "u" + string(rune('a'+i)) + "@example.com", Password: password}, ip); err != nil {
			t.Fatal(err)
		}
	}
	var te *identity.ThrottledError
	if _, err := e.Service.SignUp(ctx, identity.NewUser{Email: "z@example.com", Password: password}, ip); !errors.As(err, &te) {
		t.Fatalf("4th sign-up from one IP: %v", err)
	}
	if _, err := e.Service.SignUp(ctx, identity.NewUser{Email: "z@example.com", Password: password}, "198.51.100.1"); err != nil {
		t.Fatalf("other IP refused: %v", err)
	}
}

func TestCheckPassword(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	disabled := e.CreateUser(t, "bob@example.com", password)
	if _, err := e.Service.SetUserDisabled(ctx, "bob@example.com", true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, email, password string
		ok                    bool
	}{
		{"right", email, password, true},
		{"email any case", "  alice@EXAMPLE.com", password, true},
		{"NFKC form of the password", email, "ｖｉｖｉｄ otter anchors the lamp", true},
		{"wrong password", email, password + "!", false},
		{"unknown email", "nobody@example.com", password, false},
		{"disabled", "bob@example.com", password, false},
		{"malformed email", "nobody", password, false},
		{"huge password", email, strings.Repeat("x", 1<<16), false},
	}
	for _, c := range cases {
		got, err := e.Service.CheckPassword(ctx, c.email, c.password, "")
		if c.ok && (err != nil || got.ID != u.ID) {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Errorf("%s: got %v, want the generic ErrInvalidCredentials", c.name, err)
		}
	}
	_ = disabled
}

// TestUnknownEmailTiming checks that an unknown email costs an argon2id
// computation like a wrong password (coarse: within a factor of 3).
// TestUnknownEmailCostsTheSameHash: a wrong password for an unknown email
// does the same work as for a real account — exactly one argon2id
// verification, with the configured parameters — so the answer's timing says
// nothing about which accounts exist. Counted, not timed: a timing
// comparison would fail whenever the machine is busy.
func TestUnknownEmailCostsTheSameHash(t *testing.T) {
	params := identity.Argon2Params{Memory: 8192, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.Argon2 = params
		c.Throttle.AccountFree, c.Throttle.AccountLockout, c.Throttle.IPFree, c.Throttle.IPLockout = 1000, 1001, 1000, 1001
	}))
	u := e.CreateUser(t, email, password)
	hashes := e.Service.HashLimiter()
	work := func(addr string) int {
		before := hashes.Done()
		if _, err := e.Service.CheckPassword(ctx, addr, "wrong password here", ""); err == nil {
			t.Fatalf("%s: a wrong password was accepted", addr)
		}
		return hashes.Done() - before
	}
	if known, unknown := work(email), work("nobody@example.com"); known != 1 || unknown != 1 {
		t.Fatalf("argon2id verifications: wrong password %d, unknown email %d; want 1 and 1", known, unknown)
	}
	// The real hash was made with the configured parameters, so the dummy
	// verified for unknown emails (made with the same) costs the same.
	if identity.NeedsRehash(u.PasswordHash, params) {
		t.Fatalf("stored hash %s does not use the configured parameters", u.PasswordHash)
	}
}

func TestTransparentRehash(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	stronger := identitytest.FastArgon2
	stronger.Iterations = 2
	e2 := identitytest.NewWithStore(t, e.Store, identitytest.WithConfig(func(c *identity.Config) { c.Argon2 = stronger }))
	if !identity.NeedsRehash(u.PasswordHash, stronger) {
		t.Fatal("precondition: hash should need rehash")
	}
	if _, err := e2.Service.CheckPassword(ctx, email, password, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Store.UserByID(ctx, u.ID)
	if got.PasswordHash == u.PasswordHash || identity.NeedsRehash(got.PasswordHash, stronger) || !strings.Contains(got.PasswordHash, "t=2") {
		t.Fatalf("hash not upgraded: %s", got.PasswordHash)
	}
	if !got.CredentialsChangedAt.Equal(u.CredentialsChangedAt) {
		t.Fatal("a transparent rehash must not rotate credentials")
	}
	if _, err := e2.Service.CheckPassword(ctx, email, password, ""); err != nil {
		t.Fatalf("sign-in after rehash: %v", err)
	}
}

func TestLockoutAndRelease(t *testing.T) {
	e := identitytest.New(t)
	e.CreateUser(t, email, password)
	cfg := e.Service.Config().Throttle
	var te *identity.ThrottledError
	// The first AccountFree failures are free.
	for i := 0; i < cfg.AccountFree; i++ {
		if _, err := e.Service.CheckPassword(ctx, email, "wrong", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Then each attempt must wait a growing delay.
	var delays []time.Duration
	for i := cfg.AccountFree; i < cfg.AccountLockout; i++ {
		_, err := e.Service.CheckPassword(ctx, email, password, ip)
		if !errors.As(err, &te) {
			t.Fatalf("attempt right after failure %d not throttled: %v", i, err)
		}
		delays = append(delays, te.RetryAfter)
		e.Clock.Advance(te.RetryAfter)
		if _, err := e.Service.CheckPassword(ctx, email, "wrong", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("attempt after waiting: %v", err)
		}
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Fatalf("delays do not grow: %v", delays)
		}
	}
	// Locked: even the right password is refused, from any IP, with Retry-After.
	_, err := e.Service.CheckPassword(ctx, email, password, "198.51.100.9")
	if !errors.As(err, &te) || te.RetryAfter != cfg.LockoutDuration || te.RetryAfterSeconds() != "900" {
		t.Fatalf("locked account: %v", err)
	}
	// Unknown emails lock the same way (no enumeration by lockout).
	for i := 0; i < cfg.AccountLockout+1; i++ {
		e.Service.CheckPassword(ctx, "ghost@example.com", "wrong", "")
		e.Clock.Advance(cfg.MaxDelay)
	}
	if _, err := e.Service.CheckPassword(ctx, "ghost@example.com", "wrong", ""); !errors.As(err, &te) {
		t.Fatalf("unknown email not locked alike: %v", err)
	}
	// Released after the lockout.
	e.Clock.Advance(cfg.LockoutDuration)
	if _, err := e.Service.CheckPassword(ctx, email, password, ip); err != nil {
		t.Fatalf("after the lockout window: %v", err)
	}
	// Success cleared the account counter: a new failure is free again.
	if _, err := e.Service.CheckPassword(ctx, email, "wrong", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("after success: %v", err)
	}
}

func TestIPThrottleAcrossAccounts(t *testing.T) {
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.Throttle.IPFree, c.Throttle.IPLockout = 3, 6
	}))
	e.CreateUser(t, email, password)
	// Spraying one password over many accounts from one address.
	for i := 0; i < 6; i++ {
		e.Service.CheckPassword(ctx, "user"+string(rune('a'+i))+"@example.com", "wrong", ip)
		e.Clock.Advance(time.Minute)
	}
	var te *identity.ThrottledError
	if _, err := e.Service.CheckPassword(ctx, email, password, ip); !errors.As(err, &te) {
		t.Fatalf("sprayed IP not throttled: %v", err)
	}
	if _, err := e.Service.CheckPassword(ctx, email, password, "2001:db8::1"); err != nil {
		t.Fatalf("other IP: %v", err)
	}
}

func TestTwoFactorSignIn(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)

	// Enrol: the seed is stored sealed, not enabled until confirmed.
	key, err := e.Service.BeginTOTP(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.Store.UserByID(ctx, u.ID)
	if stored.TOTPEnabled || stored.TOTPSecret == "" || strings.Contains(stored.TOTPSecret, key.Secret) {
		t.Fatalf("pending seed not stored sealed: %+v", stored)
	}
	if again, err := e.Service.PendingTOTP(ctx, u.ID); err != nil || again.Secret != key.Secret {
		t.Fatalf("PendingTOTP: %v", err)
	}
	if _, err := e.Service.ConfirmTOTP(ctx, u.ID, "000000", ip); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("wrong confirmation code: %v", err)
	}
	codes, err := e.Service.ConfirmTOTP(ctx, u.ID, e.Code(t, key.Secret), ip)
	if err != nil || len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("ConfirmTOTP: %d codes, %v", len(codes), err)
	}
	if _, err := e.Service.PendingTOTP(ctx, u.ID); !errors.Is(err, identity.ErrTOTPEnabled) {
		t.Fatal("the key must not be shown again after enrolment")
	}
	if n, _ := e.Service.RecoveryCodesLeft(ctx, u.ID); n != 10 {
		t.Fatalf("%d recovery codes stored", n)
	}

	// The confirming code was used: the same code is refused at sign-in.
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, e.Code(t, key.Secret), ip); !errors.Is(err, identity.ErrCodeReused) {
		t.Fatalf("code used at enrolment accepted again: %v", err)
	}
	e.Clock.Advance(30 * time.Second)
	code := e.Code(t, key.Secret)
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, code, ip); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	// A replay in the same window is refused.
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, code, ip); !errors.Is(err, identity.ErrCodeReused) {
		t.Fatalf("replayed code: %v", err)
	}
	// ... and still within the ±1 step tolerance a step later.
	e.Clock.Advance(30 * time.Second)
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, code, ip); !errors.Is(err, identity.ErrCodeReused) {
		t.Fatalf("replayed previous-step code: %v", err)
	}
	// Recovery code: works once, in any case/dash form.
	rc := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if used, err := e.Service.VerifySecondFactor(ctx, u.ID, rc, ip); err != nil || !used {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, codes[3], ip); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("recovery code reused: %v", err)
	}
	if n, _ := e.Service.RecoveryCodesLeft(ctx, u.ID); n != 9 {
		t.Fatalf("%d codes left", n)
	}
	// New codes replace the old.
	fresh, err := e.Service.RegenerateRecoveryCodes(ctx, u.ID, password, ip)
	if err != nil || len(fresh) != 10 {
		t.Fatal(err)
	}
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, codes[4], ip); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatal("an old recovery code survived regeneration")
	}
	// Disable needs the password.
	if err := e.Service.DisableTOTP(ctx, u.ID, "wrong", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("disable with wrong password: %v", err)
	}
	if err := e.Service.DisableTOTP(ctx, u.ID, password, ip); err != nil {
		t.Fatal(err)
	}
	stored, _ = e.Store.UserByID(ctx, u.ID)
	if stored.TOTPEnabled || stored.TOTPSecret != "" {
		t.Fatal("two-factor still on")
	}
}

func TestSecondFactorLockout(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	secret, _ := e.EnableTOTP(t, u.ID)
	cfg := e.Service.Config().Throttle
	var te *identity.ThrottledError
	for i := 0; i < cfg.AccountLockout; i++ {
		_, err := e.Service.VerifySecondFactor(ctx, u.ID, "000000", ip)
		if errors.As(err, &te) {
			e.Clock.Advance(te.RetryAfter)
			_, err = e.Service.VerifySecondFactor(ctx, u.ID, "000000", ip)
		}
		if !errors.Is(err, identity.ErrInvalidCode) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, e.Code(t, secret), ip); !errors.As(err, &te) {
		t.Fatalf("locked second factor accepted a code: %v", err)
	}
	e.Clock.Advance(cfg.LockoutDuration)
	if _, err := e.Service.VerifySecondFactor(ctx, u.ID, e.Code(t, secret), ip); err != nil {
		t.Fatalf("after lockout: %v", err)
	}
}

// TestTOTPReplayRace releases many goroutines with the same valid code at
// once: exactly one may succeed (unique (user, step) in the database).
func TestTOTPReplayRace(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	secret, _ := e.EnableTOTP(t, u.ID)
	code := e.Code(t, secret)
	var (
		wg    sync.WaitGroup
		ok    atomic.Int32
		start = make(chan struct{})
	)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := e.Service.VerifySecondFactor(ctx, u.ID, code, ""); err == nil {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d concurrent uses of one code succeeded", ok.Load())
	}
}

func TestAuthenticateBasic(t *testing.T) {
	e := identitytest.New(t)
	plain := e.CreateUser(t, "plain@example.com", password)
	u := e.CreateUser(t, email, password)
	secret, recovery := e.EnableTOTP(t, u.ID)

	if got, err := e.Service.AuthenticateBasic(ctx, "plain@example.com", password, "", ip); err != nil || got.ID != plain.ID {
		t.Fatalf("no two-factor: %v", err)
	}
	if _, err := e.Service.AuthenticateBasic(ctx, email, "wrong", e.Code(t, secret), ip); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("wrong password with a good code: %v", err)
	}
	if _, err := e.Service.AuthenticateBasic(ctx, email, password, "", ip); !errors.Is(err, identity.ErrOTPRequired) {
		t.Fatalf("missing OTP: %v", err)
	}
	if _, err := e.Service.AuthenticateBasic(ctx, email, password, "123456", ip); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("wrong OTP: %v", err)
	}
	if _, err := e.Service.AuthenticateBasic(ctx, email, password, recovery[0], ip); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("recovery code over Basic: %v", err)
	}
	code := e.Code(t, secret)
	if got, err := e.Service.AuthenticateBasic(ctx, email, password, code, ip); err != nil || got.ID != u.ID {
		t.Fatalf("good OTP: %v", err)
	}
	if _, err := e.Service.AuthenticateBasic(ctx, email, password, code, ip); !errors.Is(err, identity.ErrCodeReused) {
		t.Fatalf("replayed OTP: %v", err)
	}
}

func TestSessions(t *testing.T) {
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.SessionIdleTimeout = time.Hour
		c.SessionLifetime = 3 * time.Hour
	}))
	u := e.CreateUser(t, email, password)

	cookie, sess, err := e.Service.StartSession(ctx, u.ID, false, "Firefox", ip)
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID == cookie || strings.Contains(sess.ID, cookie) || len(cookie) < 43 {
		t.Fatal("the stored id must be a keyed hash of the cookie, not the cookie")
	}
	got, gu, err := e.Service.Session(ctx, cookie)
	if err != nil || got.ID != sess.ID || gu.ID != u.ID {
		t.Fatalf("lookup: %v", err)
	}
	if _, _, err := e.Service.Session(ctx, sess.ID); !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("the stored id works as a cookie")
	}
	// Touch at most once a minute.
	e.Clock.Advance(30 * time.Second)
	got, _, _ = e.Service.Session(ctx, cookie)
	if !got.LastSeenAt.Equal(sess.LastSeenAt) {
		t.Fatal("touched within a minute")
	}
	e.Clock.Advance(31 * time.Second)
	got, _, _ = e.Service.Session(ctx, cookie)
	if !got.LastSeenAt.After(sess.LastSeenAt) {
		t.Fatal("not touched after a minute")
	}
	// Idle expiry.
	e.Clock.Advance(time.Hour)
	if _, _, err := e.Service.Session(ctx, cookie); !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("idle session still alive")
	}
	// Absolute expiry even when used.
	cookie, _, _ = e.Service.StartSession(ctx, u.ID, false, "", "")
	for i := 0; i < 6; i++ {
		e.Clock.Advance(30 * time.Minute)
		_, _, err = e.Service.Session(ctx, cookie)
	}
	if !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("session outlived its absolute lifetime")
	}
	// MFA-pending sessions are short-lived.
	cookie, pending, _ := e.Service.StartSession(ctx, u.ID, true, "", "")
	if !pending.MFAPending || pending.ExpiresAt.Sub(pending.CreatedAt) != e.Service.Config().MFAPendingTimeout {
		t.Fatalf("pending session %+v", pending)
	}
	full, fs, err := e.Service.CompleteSignIn(ctx, pending, "", "")
	if err != nil || fs.MFAPending || full == cookie {
		t.Fatalf("CompleteSignIn: %v", err)
	}
	if _, _, err := e.Service.Session(ctx, cookie); !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("pending session survived completion")
	}
}

func TestChangePasswordEndsSessions(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	c1, _, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	c2, _, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	if err := e.Service.ChangePassword(ctx, u.ID, "wrong", "new fine passphrase", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("wrong current password: %v", err)
	}
	var pe *identity.PolicyError
	if err := e.Service.ChangePassword(ctx, u.ID, password, "password1", ip); !errors.As(err, &pe) {
		t.Fatalf("common new password: %v", err)
	}
	e.Clock.Advance(time.Second)
	if err := e.Service.ChangePassword(ctx, u.ID, password, "new fine passphrase", ip); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{c1, c2} {
		if _, _, err := e.Service.Session(ctx, c); !errors.Is(err, identity.ErrNoSession) {
			t.Fatal("a session survived the password change")
		}
	}
	if _, err := e.Service.CheckPassword(ctx, email, password, ""); err == nil {
		t.Fatal("old password still works")
	}
	if _, err := e.Service.CheckPassword(ctx, email, "new fine passphrase", ""); err != nil {
		t.Fatal(err)
	}
	c3, _, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	if _, _, err := e.Service.Session(ctx, c3); err != nil {
		t.Fatalf("a session started after the change: %v", err)
	}
}

func TestSessionHandles(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	other := e.CreateUser(t, "bob@example.com", password)
	_, s1, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	c2, s2, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	_, so, _ := e.Service.StartSession(ctx, other.ID, false, "", "")
	list, err := e.Service.ListSessions(ctx, u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListSessions: %d, %v", len(list), err)
	}
	if err := e.Service.EndSessionByHandle(ctx, u.ID, e.Service.SessionHandle(so)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("ended another user's session")
	}
	if err := e.Service.EndSessionByHandle(ctx, u.ID, e.Service.SessionHandle(s2)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.Session(ctx, c2); !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("ended session alive")
	}
	_ = s1
}

func TestDisableUserEndsSessions(t *testing.T) {
	e := identitytest.New(t)
	u := e.CreateUser(t, email, password)
	c, _, _ := e.Service.StartSession(ctx, u.ID, false, "", "")
	if _, err := e.Service.SetUserDisabled(ctx, email, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.Session(ctx, c); !errors.Is(err, identity.ErrNoSession) {
		t.Fatal("disabled user's session alive")
	}
	if _, err := e.Service.CheckPassword(ctx, email, password, ""); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatal("disabled user signs in")
	}
}

// BenchmarkSignIn measures the whole password step of a sign-in (throttle
// check, user lookup, argon2id verify with the production OWASP parameters,
// clearing the counter) over a real SQLite store. Run it with -cpu 1: argon2id
// with p=1 is single-threaded, so signins/s/core = 1e9 / ns/op.
//
//	go test ./internal/identity -run '^$' -bench 'SignIn|VerifyPassword' -benchtime 3s -cpu 1
func BenchmarkSignIn(b *testing.B) {
	e := identitytest.New(b, identitytest.WithConfig(func(c *identity.Config) { c.Argon2 = identity.DefaultArgon2Params() }))
	e.CreateUser(b, email, password)
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := e.Service.CheckPassword(ctx, email, password, ip); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "signins/s/core")
}
