package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// buildRateLimit builds the rate-limit middleware from the settings: counters
// in memory, or in Redis when redis_url is set.
func (a *App) buildRateLimit() error {
	c := a.Config.RateLimit
	var backend ratelimit.Backend = ratelimit.NewMemory(a.Now)
	if c.RedisURL != "" {
		r, err := ratelimit.NewRedis(c.RedisURL, c.RedisKeyPrefix)
		if err != nil {
			return err
		}
		// Reachability is reported, not required: the failure setting
		// decides what requests meet while Redis is away.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := r.Ping(ctx); err != nil {
			a.Log.Warn("rate limits: redis unreachable at start", "err", err, "rate_limit_redis_failure", c.RedisFailure)
		}
		cancel()
		backend, a.rateLimitRedis = r, r
	}
	lim := ratelimit.NewLimiter(ratelimit.Options{
		Backend: backend, FailOpen: c.RedisFailure != "closed", Log: a.Log, Now: a.Now, Registry: a.Registry,
		Activity: a.Activity,
	})
	a.rateLimit = ratelimit.Middleware(ratelimit.HTTPOptions{
		Limiter: lim, Rates: c.Rates,
		Token:          oauth.WriteRateLimited,
		Page:           a.Accounts.RateLimited,
		PendingAccount: a.Accounts.PendingAccount,
	})
	return nil
}

// rateLimitHandler is the rate-limit middleware (identity before Open).
func (a *App) rateLimitHandler(next http.Handler) http.Handler {
	if a.rateLimit == nil {
		return next
	}
	return a.rateLimit(next)
}

// rateLimits is the App's rate-limit state.
type rateLimits struct {
	rateLimit      func(http.Handler) http.Handler
	rateLimitRedis *ratelimit.Redis // nil without redis_url
}

func (a *App) closeRateLimits() {
	if a.rateLimitRedis != nil {
		a.rateLimitRedis.Close()
	}
}
