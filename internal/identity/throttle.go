package identity

import (
	"context"
	"net/netip"
	"time"
)

// ThrottleConfig limits guessing of passwords and one-time codes. Failures
// are counted in the database (store.Throttle), per account and per client
// IP, over Window. Up to Free failures cost nothing; each further failure
// doubles the wait before the next attempt is even checked (BaseDelay,
// 2·BaseDelay, … up to MaxDelay); at Lockout failures the key is locked for
// LockoutDuration after the last failure. While a key is throttled, attempts
// are refused with a ThrottledError and are not counted (so an attacker cannot
// extend the lock forever, and the real user gets in once it lapses).
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

// throttleKey is one counter and its limits.
type throttleKey struct {
	key           string
	free, lockout int
}

func (s *Service) accountKey(email string) throttleKey {
	return throttleKey{"acct:" + email, s.cfg.Throttle.AccountFree, s.cfg.Throttle.AccountLockout}
}

func (s *Service) codeKey(userID string) throttleKey {
	return throttleKey{"otp:" + userID, s.cfg.Throttle.AccountFree, s.cfg.Throttle.AccountLockout}
}

func (s *Service) ipKey(ip string) (throttleKey, bool) {
	k := ipBucket(ip)
	if k == "" {
		return throttleKey{}, false
	}
	return throttleKey{"ip:" + k, s.cfg.Throttle.IPFree, s.cfg.Throttle.IPLockout}, true
}

// ipBucket returns the address an attacker cannot cheaply vary: the IPv4
// address, or the /64 of an IPv6 address (one customer's allocation).
func ipBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(ip); err2 == nil {
			a = ap.Addr()
		} else {
			return ""
		}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// delayAfter is how long after the last of n failures the next attempt waits.
func (s *Service) delayAfter(n int, k throttleKey) time.Duration {
	t := s.cfg.Throttle
	switch {
	case n >= k.lockout:
		return t.LockoutDuration
	case n >= k.free:
		d := t.BaseDelay
		for i := k.free; i < n && d < t.MaxDelay; i++ {
			d *= 2
		}
		return min(d, t.MaxDelay)
	}
	return 0
}

// checkThrottle returns a ThrottledError when any key must still wait, and
// otherwise the current failure count of each key (so callers clear a
// counter only when there is one: no write on the common path).
func (s *Service) checkThrottle(ctx context.Context, now time.Time, keys ...throttleKey) ([]int, error) {
	var wait time.Duration
	counts := make([]int, len(keys))
	for i, k := range keys {
		n, last, err := s.st.Failures(ctx, k.key, now, s.cfg.Throttle.Window)
		if err != nil {
			return nil, err
		}
		counts[i] = n
		if n == 0 {
			continue
		}
		if until := last.Add(s.delayAfter(n, k)); until.After(now) {
			wait = max(wait, until.Sub(now))
		}
	}
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	return counts, nil
}

// clearFailures resets the first key's counter after a success, if it has one.
func (s *Service) clearFailures(ctx context.Context, counts []int, keys []throttleKey) {
	if len(counts) == 0 || counts[0] == 0 {
		return
	}
	if err := s.st.ClearFailures(ctx, keys[0].key); err != nil {
		s.log.Error("clearing failures", "key", keys[0].key, "err", err)
	}
}

// recordFailure counts one failure on every key. Errors are logged, not
// returned: the caller's answer is already a refusal.
func (s *Service) recordFailure(ctx context.Context, now time.Time, keys ...throttleKey) {
	for _, k := range keys {
		n, err := s.st.RecordFailure(ctx, k.key, now, s.cfg.Throttle.Window)
		if err != nil {
			s.log.Error("recording failed attempt", "key", k.key, "err", err)
			continue
		}
		if n == k.lockout {
			s.log.Warn("temporary lockout", "key", k.key, "failures", n, "duration", s.cfg.Throttle.LockoutDuration)
		}
	}
}
