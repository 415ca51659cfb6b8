package config

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// RateLimitConfig is where rate-limit counters live and what the limits are.
type RateLimitConfig struct {
	// RedisURL, when set, keeps the counters in Redis so every replica
	// enforces one limit; "" keeps them in this process.
	RedisURL       string
	RedisKeyPrefix string
	// RedisFailure is open (allow unlimited) or closed (refuse with 503)
	// while Redis cannot be reached.
	RedisFailure string
	// Rates per route class (ratelimit.Class); a zero Rate is off.
	Rates map[ratelimit.Class]ratelimit.Rate
}

// rateLimitSettings are the rate-limit rows of the settings table: the
// backend, then one rate_limit_<class> per route class.
func rateLimitSettings() []setting {
	out := []setting{
		// Not a flag: the URL may carry a password, and flags show in ps.
		{"redis_url", "", "redis:// or rediss:// URL: keep rate-limit counters in Redis so every replica enforces the same limits (not a flag: it may hold a password). Empty: counters in memory, per process", false,
			str(func(c *Config) *string { return &c.RateLimit.RedisURL })},
		{"redis_key_prefix", "gatehouse:rl:", "prefix of every rate-limit key in Redis (to share one Redis between deployments)", true,
			str(func(c *Config) *string { return &c.RateLimit.RedisKeyPrefix })},
		{"rate_limit_redis_failure", "open", "while Redis is unreachable: open (serve requests unlimited) | closed (refuse limited routes with 503 and Retry-After); either way it is logged at most every 10 s and counted in gatehouse_rate_limit_backend_errors_total", true,
			str(func(c *Config) *string { return &c.RateLimit.RedisFailure })},
	}
	for _, ci := range ratelimit.Classes() {
		class := ci.Class
		out = append(out, setting{"rate_limit_" + string(class), ci.Default,
			"limit on " + ci.Help + ": N/s, N/m or N/h, optionally \"burst M\", or off", true,
			func(c *Config, v string) error {
				r, err := ratelimit.ParseRate(v)
				if err != nil {
					return fmt.Errorf("want e.g. \"10/s burst 20\" or off")
				}
				if c.RateLimit.Rates == nil {
					c.RateLimit.Rates = map[ratelimit.Class]ratelimit.Rate{}
				}
				c.RateLimit.Rates[class] = r
				return nil
			}})
	}
	return out
}

func (c *Config) validateRateLimits() []error {
	var errs []error
	switch c.RateLimit.RedisFailure {
	case "open", "closed":
	default:
		errs = append(errs, fmt.Errorf("rate_limit_redis_failure %q: must be one of open, closed", c.RateLimit.RedisFailure))
	}
	if u := c.RateLimit.RedisURL; u != "" && !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "unix://") {
		errs = append(errs, fmt.Errorf("redis_url must start with redis://, rediss:// or unix://"))
	}
	return errs
}
