package identity_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
)

// raceN goroutines hit one throttle key at once in each race test.
const raceN = 64

// burst runs fn in raceN goroutines released together and sorts the
// answers: judged (the password or code was checked and found wrong, or the
// sign-up went through), throttled, and anything else (which fails the test).
func burst(t *testing.T, judged func(error) bool, fn func(i int) error) (checked, throttled int) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, raceN)
	)
	for i := range raceN {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		var te *identity.ThrottledError
		switch {
		case judged(err):
			checked++
		case errors.As(err, &te):
			throttled++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	return checked, throttled
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// waitOut advances the clock past the wait a throttled attempt reports.
func waitOut(t *testing.T, e *identitytest.Env, try func() error) {
	t.Helper()
	var te *identity.ThrottledError
	if err := try(); !errors.As(err, &te) {
		t.Fatalf("expected a throttled answer, got %v", err)
	}
	e.Clock.Advance(te.RetryAfter)
}

// TestRaceWrongPasswordsOneAccount: bursts of 64 concurrent wrong passwords
// for one account. The first burst checks exactly the free attempts, each
// burst after a delay exactly one, and in total exactly AccountLockout
// passwords are checked before the lock; during the lock none is.
func TestRaceWrongPasswordsOneAccount(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(testing.TB, ...identitytest.Option) *identitytest.Env) {
		e := newEnv(t)
		e.CreateUser(t, email, password)
		cfg := e.Service.Config().Throttle
		wrong := func(int) error { _, err := e.Service.CheckPassword(ctx, email, "wrong guess", ip); return err }
		total, _ := burst(t, isErr(identity.ErrInvalidCredentials), wrong)
		if total != cfg.AccountFree {
			t.Fatalf("first burst: %d passwords checked, want exactly %d (the free attempts)", total, cfg.AccountFree)
		}
		for total < cfg.AccountLockout {
			waitOut(t, e, func() error { return wrong(0) })
			n, _ := burst(t, isErr(identity.ErrInvalidCredentials), wrong)
			if n != 1 {
				t.Fatalf("burst after a delay: %d checked, want exactly 1", n)
			}
			total += n
		}
		e.Clock.Advance(cfg.MaxDelay)
		if n, th := burst(t, isErr(identity.ErrInvalidCredentials), wrong); n != 0 || th != raceN {
			t.Fatalf("locked account: %d checked, %d throttled; want 0 and %d", n, th, raceN)
		}
		// The right password, from another address, is refused too.
		var te *identity.ThrottledError
		if _, err := e.Service.CheckPassword(ctx, email, password, "198.51.100.77"); !errors.As(err, &te) {
			t.Fatalf("locked account accepted its password: %v", err)
		}
	})
}

// TestRaceSignUpsOneAddress: 64 parallel sign-ups from one address, each
// with its own email: exactly SignupsPerIP accounts are created.
func TestRaceSignUpsOneAddress(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(testing.TB, ...identitytest.Option) *identitytest.Env) {
		e := newEnv(t)
		limit := e.Service.Config().Throttle.SignupsPerIP
		created, _ := burst(t, func(err error) bool { return err == nil }, func(i int) error {
			_, err := e.Service.SignUp(ctx, identity.NewUser{Email: fmt.Sprintf("u%02d@example.com", i), Password: password}, ip)
			return err
		})
		if created != limit {
			t.Fatalf("%d sign-ups succeeded, want exactly %d", created, limit)
		}
		users, err := e.Service.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != limit {
			t.Fatalf("%d accounts in the store, want %d", len(users), limit)
		}
	})
}

// TestRaceWrongCodesOneUser: the second factor races like the password.
func TestRaceWrongCodesOneUser(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(testing.TB, ...identitytest.Option) *identitytest.Env) {
		e := newEnv(t)
		u := e.CreateUser(t, email, password)
		secret, _ := e.EnableTOTP(t, u.ID)
		cfg := e.Service.Config().Throttle
		wrong := func(int) error { _, err := e.Service.VerifySecondFactor(ctx, u.ID, "000000", ip); return err }
		total, _ := burst(t, isErr(identity.ErrInvalidCode), wrong)
		if total != cfg.AccountFree {
			t.Fatalf("first burst: %d codes checked, want exactly %d", total, cfg.AccountFree)
		}
		for total < cfg.AccountLockout {
			waitOut(t, e, func() error { return wrong(0) })
			n, _ := burst(t, isErr(identity.ErrInvalidCode), wrong)
			if n != 1 {
				t.Fatalf("burst after a delay: %d checked, want exactly 1", n)
			}
			total += n
		}
		var te *identity.ThrottledError
		if _, err := e.Service.VerifySecondFactor(ctx, u.ID, e.Code(t, secret), ip); !errors.As(err, &te) {
			t.Fatalf("locked second factor accepted a code: %v", err)
		}
	})
}

// TestRaceIPBurstRandomEmails: failures with a different email each, from
// one address, are capped by the address's limit exactly. The cap is set
// with no free-attempt delays below it, so a burst meets the hard limit.
func TestRaceIPBurstRandomEmails(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, newEnv func(testing.TB, ...identitytest.Option) *identitytest.Env) {
		const limit = 40
		e := newEnv(t, identitytest.WithConfig(func(c *identity.Config) { c.Throttle.IPFree, c.Throttle.IPLockout = limit, limit }))
		e.CreateUser(t, email, password)
		n, _ := burst(t, isErr(identity.ErrInvalidCredentials), func(i int) error {
			_, err := e.Service.CheckPassword(ctx, fmt.Sprintf("ghost%02d@example.com", i), "wrong guess", ip)
			return err
		})
		if n != limit {
			t.Fatalf("%d passwords checked from one address, want exactly %d", n, limit)
		}
		var te *identity.ThrottledError
		if _, err := e.Service.CheckPassword(ctx, email, password, ip); !errors.As(err, &te) {
			t.Fatalf("address past its limit still checked: %v", err)
		}
		if _, err := e.Service.CheckPassword(ctx, email, password, "2001:db8::1"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})
}

// TestSuccessesDoNotThrottleAddress: sign-ins that succeed refund their
// reservation on the address key, so an office behind one address is never
// throttled by its own successful sign-ins.
func TestSuccessesDoNotThrottleAddress(t *testing.T) {
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) { c.Throttle.IPFree, c.Throttle.IPLockout = 3, 3 }))
	e.CreateUser(t, email, password)
	for i := range 10 {
		if _, err := e.Service.CheckPassword(ctx, email, password, ip); err != nil {
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
	}
	// …while failures from it still count: two more are allowed, then none.
	for i := range 3 {
		if _, err := e.Service.CheckPassword(ctx, fmt.Sprintf("g%d@example.com", i), "wrong guess", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	var te *identity.ThrottledError
	if _, err := e.Service.CheckPassword(ctx, email, password, ip); !errors.As(err, &te) {
		t.Fatalf("address at its limit: %v", err)
	}
}

// TestPasswordHashingBounded: many concurrent verifications (unknown users,
// each from its own address, so no throttle applies) never run more than the
// limiter's slots at once, and all complete when the queue has room.
func TestPasswordHashingBounded(t *testing.T) {
	const slots = 2
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.HashLimits = identity.HashLimits{Slots: slots, Queue: raceN, MaxWait: time.Minute}
	}))
	n, _ := burst(t, isErr(identity.ErrInvalidCredentials), func(i int) error {
		_, err := e.Service.CheckPassword(ctx, fmt.Sprintf("nobody%02d@example.com", i), "wrong guess", fmt.Sprintf("192.0.2.%d", i+1))
		return err
	})
	if n != raceN {
		t.Fatalf("%d of %d verifications completed", n, raceN)
	}
	if p := e.Service.HashLimiter().Peak(); p < 1 || p > slots {
		t.Fatalf("peak concurrent hashes = %d, want 1..%d", p, slots)
	}
}

// TestHashLimiterOverflow: with every slot taken and the queue full, the
// next caller is turned away at once with a BusyError; a queued caller runs
// when a slot frees. The in-flight counter inside fn never passes the slots.
func TestHashLimiterOverflow(t *testing.T) {
	const slots, queue = 2, 3
	l := identity.NewHashLimiter(identity.HashLimits{Slots: slots, Queue: queue}, 8, identitytest.FastArgon2)
	var inFlight, peak atomic.Int64
	running := make(chan struct{})
	release := make(chan struct{})
	hold := func() {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		running <- struct{}{}
		<-release
		inFlight.Add(-1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, slots+queue)
	for range slots + queue {
		wg.Go(func() { errs <- l.Do(context.Background(), hold) })
	}
	for range slots {
		<-running // both slots are held
	}
	for l.Waiting() < queue {
		// The queued callers are on their way in; nothing else can take
		// their places, so this ends without depending on timing.
		runtime.Gosched()
	}
	var be *identity.BusyError
	if err := l.Do(context.Background(), func() { t.Error("overflow ran") }); !errors.As(err, &be) || be.RetryAfterSeconds() != "1" {
		t.Fatalf("overflow: %v, want a BusyError with Retry-After 1", err)
	}
	go func() {
		for range queue {
			<-running
		}
	}()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("queued caller: %v", err)
		}
	}
	if p := peak.Load(); p != slots {
		t.Fatalf("peak in flight = %d, want %d", p, slots)
	}
}

// TestBusyIsNotCounted: when no hashing capacity is left, CheckPassword
// answers BusyError without checking the password, and the attempt is
// refunded: afterwards every free attempt is still free.
func TestBusyIsNotCounted(t *testing.T) {
	e := identitytest.New(t, identitytest.WithConfig(func(c *identity.Config) {
		c.HashLimits = identity.HashLimits{Slots: 1, Queue: -1}
	}))
	e.CreateUser(t, email, password)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- e.Service.HashLimiter().Do(ctx, func() { close(held); <-release }) }()
	<-held
	cfg := e.Service.Config().Throttle
	var be *identity.BusyError
	for range cfg.AccountFree + 1 {
		if _, err := e.Service.CheckPassword(ctx, email, "wrong guess", ip); !errors.As(err, &be) {
			t.Fatalf("saturated: %v, want BusyError", err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range cfg.AccountFree {
		if _, err := e.Service.CheckPassword(ctx, email, "wrong guess", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("free attempt %d after busy answers: %v", i+1, err)
		}
	}
}

func TestAutoHashSlots(t *testing.T) {
	p := identity.DefaultArgon2Params() // 19 MiB, p=1
	for _, c := range []struct {
		cores  int
		memory uint64
		want   int
	}{
		{2, 0, 2},                // memory unknown: cores
		{2, 8 << 30, 2},          // plenty of memory: cores
		{64, 1 << 30, 13},        // 1 GiB ÷ 4 ÷ 19 MiB = 13
		{8, 50 << 20, 1},         // tiny container: at least 1
		{1, 0, 1},                // one core
		{0, 0, 1},                // nonsense in, still 1
		{16, 4 << 30, 16},        // 4 GiB ÷ 4 ÷ 19 MiB = 53 > 16 cores
		{16, 512 << 20, 6},       // 512 MiB ÷ 4 ÷ 19 MiB = 6
		{4, 19 * 4 * 3 << 20, 3}, // exactly three hashes' worth
		{4, (19*4*3<<20 - 1), 2}, // one byte less
	} {
		if got := identity.AutoHashSlots(c.cores, c.memory, p); got != c.want {
			t.Errorf("AutoHashSlots(%d cores, %d bytes) = %d, want %d", c.cores, c.memory, got, c.want)
		}
	}
	p.Parallelism = 4
	if got := identity.AutoHashSlots(16, 0, p); got != 4 {
		t.Errorf("16 cores, p=4: %d, want 4", got)
	}
}
