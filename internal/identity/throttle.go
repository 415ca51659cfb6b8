package identity

import (
	"context"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ThrottleConfig limits guessing of passwords and one-time codes. Failures
// are counted in the database (store.Throttle), per account and per client
// IP, over Window. Up to Free failures cost nothing; each further failure
// doubles the wait before the next attempt is even checked (BaseDelay,
// 2·BaseDelay, … up to MaxDelay); at Lockout failures the key is locked for
// LockoutDuration after the last failure. While a key is throttled, attempts
// are refused with a ThrottledError, are not counted (so an attacker cannot
// extend the lock forever, and the real user gets in once it lapses), and
// cost no password hash.
//
// Every attempt is reserved in the database — counted as a failure, in one
// atomic statement that also applies the limits — before the password or code
// is checked, so concurrent requests on any number of replicas cannot all be
// checked against the same old count: Lockout is an exact cap. A success
// clears the account (or user) key and refunds its reservation on the IP key,
// so successes never throttle an address.
//
// Per-account keys apply to unknown emails too, so a lockout reveals nothing
// about which accounts exist.
type ThrottleConfig struct {
	Window          time.Duration // default 15m
	AccountFree     int           // default 5
	AccountLockout  int           // default 10
	IPFree          int           // default 20
	IPLockout       int           // default 100
	BaseDelay       time.Duration // default 1s
	MaxDelay        time.Duration // default 1m
	LockoutDuration time.Duration // default 15m
	// SignupsPerIP sign-ups are allowed per client IP in SignupWindow
	// (defaults 10 per hour).
	SignupsPerIP int
	SignupWindow time.Duration
}

// DefaultThrottleConfig returns the production throttle settings.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{
		Window:          15 * time.Minute,
		AccountFree:     5,
		AccountLockout:  10,
		IPFree:          20,
		IPLockout:       100,
		BaseDelay:       time.Second,
		MaxDelay:        time.Minute,
		LockoutDuration: 15 * time.Minute,
		SignupsPerIP:    10,
		SignupWindow:    time.Hour,
	}
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	d := DefaultThrottleConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Window, d.Window)
	set(&c.BaseDelay, d.BaseDelay)
	set(&c.MaxDelay, d.MaxDelay)
	set(&c.LockoutDuration, d.LockoutDuration)
	set(&c.SignupWindow, d.SignupWindow)
	seti(&c.AccountFree, d.AccountFree)
	seti(&c.AccountLockout, d.AccountLockout)
	seti(&c.IPFree, d.IPFree)
	seti(&c.IPLockout, d.IPLockout)
	seti(&c.SignupsPerIP, d.SignupsPerIP)
	return c
}

// throttleKey is one counter, its limits, and what a success does to it.
type throttleKey struct {
	key    string
	policy store.ThrottlePolicy
	// clear: a success forgets the key's streak (the account or the user:
	// the right secret proves the earlier failures were the owner's typos).
	// Otherwise a success only refunds its own reservation (an address
	// shared by many people keeps the failures of the others).
	clear bool
}

func (s *Service) policy(free, lockout int) store.ThrottlePolicy {
	t := s.cfg.Throttle
	return store.ThrottlePolicy{Window: t.Window, Free: free, Limit: lockout,
		BaseDelay: t.BaseDelay, MaxDelay: t.MaxDelay, LockFor: t.LockoutDuration}
}

func (s *Service) accountKey(email string) throttleKey {
	return throttleKey{"acct:" + email, s.policy(s.cfg.Throttle.AccountFree, s.cfg.Throttle.AccountLockout), true}
}

func (s *Service) codeKey(userID string) throttleKey {
	return throttleKey{"otp:" + userID, s.policy(s.cfg.Throttle.AccountFree, s.cfg.Throttle.AccountLockout), true}
}

func (s *Service) ipKey(ip string) (throttleKey, bool) {
	k := ipBucket(ip)
	if k == "" {
		return throttleKey{}, false
	}
	return throttleKey{"ip:" + k, s.policy(s.cfg.Throttle.IPFree, s.cfg.Throttle.IPLockout), false}, true
}

// signupKey counts sign-ups per address: a plain cap of SignupsPerIP per
// SignupWindow, no delays below it.
func (s *Service) signupKey(ip string) (throttleKey, bool) {
	k := ipBucket(ip)
	if k == "" {
		return throttleKey{}, false
	}
	t := s.cfg.Throttle
	return throttleKey{"signup:ip:" + k, store.ThrottlePolicy{
		Window: t.SignupWindow, Free: t.SignupsPerIP, Limit: t.SignupsPerIP, LockFor: t.SignupWindow,
	}, false}, true
}

// ipBucket returns the address an attacker cannot cheaply vary: the IPv4
// address, or the /64 of an IPv6 address (one customer's allocation).
func ipBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err := netip.ParseAddrPort(ip)
		if err != nil {
			return ""
		}
		a = ap.Addr()
	}
	return clientaddr.Key(a)
}

// attempt is a set of granted reservations, one per key, settled exactly
// once: kept (they stay counted), succeeded (clear or refund each key), or
// abandoned (refund all: the attempt was never judged, e.g. a store error or
// no hashing capacity).
type attempt struct {
	s       *Service
	keys    []throttleKey
	res     []store.Reservation
	settled bool
}

// reserve reserves one attempt on every key, in order, before any expensive
// work. Callers put the client's own key (its address) first: when a later
// key refuses, the earlier reservations are refunded, so an attacker who is
// refused by their address's limit never touches the victim's account key.
// A refusal is a *ThrottledError; nothing stays counted.
func (s *Service) reserve(ctx context.Context, now time.Time, keys ...throttleKey) (*attempt, error) {
	a := &attempt{s: s, keys: keys, res: make([]store.Reservation, 0, len(keys))}
	for _, k := range keys {
		r, err := s.st.Reserve(ctx, k.key, now, k.policy)
		if err != nil {
			a.abandon(ctx)
			return nil, err
		}
		if !r.Granted {
			a.abandon(ctx)
			wait := r.Last.Add(k.policy.Delay(r.Count)).Sub(now)
			if wait <= 0 {
				// The row moved on between the refusal and the read back
				// (another reservation was refunded): ask for a short wait.
				wait = time.Second
			}
			return nil, &ThrottledError{RetryAfter: wait}
		}
		a.res = append(a.res, r)
	}
	return a, nil
}

// keep keeps the reservations: each counts (as a failure; for sign-ups, as
// a sign-up).
func (a *attempt) keep() {
	if a.settled {
		return
	}
	a.settled = true
	a.s.cfg.Metrics.kept(a.keys, a.res)
	for i, r := range a.res {
		if k := a.keys[i]; r.Count == k.policy.Limit {
			a.s.log.Warn("temporary lockout", "key", k.key, "failures", r.Count, "duration", k.policy.LockFor)
		}
	}
}

// succeeded clears the keys that a success clears and refunds the others.
// Errors are logged: the caller's answer is already decided.
func (a *attempt) succeeded(ctx context.Context) {
	if a.settled {
		return
	}
	a.settled = true
	ctx = context.WithoutCancel(ctx)
	for i, r := range a.res {
		k := a.keys[i]
		var err error
		if k.clear {
			err = a.s.st.ClearFailures(ctx, k.key)
		} else {
			err = a.s.st.Refund(ctx, k.key, r)
		}
		if err != nil {
			a.s.log.Error("settling throttle after success", "key", k.key, "err", err)
		}
	}
}

// abandon refunds every reservation: the attempt was not judged. It does
// nothing after keep or succeeded, so callers may defer it.
func (a *attempt) abandon(ctx context.Context) {
	if a.settled {
		return
	}
	a.settled = true
	ctx = context.WithoutCancel(ctx)
	for i, r := range a.res {
		if err := a.s.st.Refund(ctx, a.keys[i].key, r); err != nil {
			a.s.log.Error("refunding throttle reservation", "key", a.keys[i].key, "err", err)
		}
	}
}
