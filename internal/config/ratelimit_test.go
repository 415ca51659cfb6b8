package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

func TestRateLimitSettings(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit.RedisURL != "" || c.RateLimit.RedisFailure != "open" || c.RateLimit.RedisKeyPrefix != "gatehouse:rl:" {
		t.Fatalf("defaults: %+v", c.RateLimit)
	}
	for _, ci := range ratelimit.Classes() {
		want, _ := ratelimit.ParseRate(ci.Default)
		if got := c.RateLimit.Rates[ci.Class]; got != want || got.Off() {
			t.Errorf("%s default %+v, want %+v", ci.Class, got, want)
		}
	}

	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("rate_limit_signup_address: 3/m burst 5\nredis_url: redis://127.0.0.1:6379/2\n"), 0o600)
	c, err = load(t, []string{"--rate-limit-token-client", "off", "--rate-limit-redis-failure", "closed"},
		map[string]string{"GATEHOUSE_CONFIG": file, "GATEHOUSE_RATE_LIMIT_ADMIN_ADDRESS": "7/s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RateLimit.Rates[ratelimit.SignupAddress]; got != (ratelimit.Rate{Count: 3, Per: time.Minute, Burst: 5}) {
		t.Errorf("from the file: %+v", got)
	}
	if got := c.RateLimit.Rates[ratelimit.Admin]; got != (ratelimit.Rate{Count: 7, Per: time.Second, Burst: 7}) {
		t.Errorf("from the environment: %+v", got)
	}
	if !c.RateLimit.Rates[ratelimit.TokenClient].Off() || c.RateLimit.RedisFailure != "closed" || c.RateLimit.RedisURL != "redis://127.0.0.1:6379/2" {
		t.Errorf("from flags and file: %+v", c.RateLimit)
	}

	_, err = load(t, nil, map[string]string{
		"GATEHOUSE_RATE_LIMIT_SIGNIN_ACCOUNT": "ten per second",
		"GATEHOUSE_RATE_LIMIT_REDIS_FAILURE":  "maybe",
		"GATEHOUSE_REDIS_URL":                 "http://127.0.0.1:6379",
		"GATEHOUSE_RATE_LIMIT_LEAK_ADDRESS":   "5/s burst 0",
	})
	for _, want := range []string{"rate_limit_signin_account", "rate_limit_redis_failure", "redis_url", "rate_limit_leak_address"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no error about %s: %v", want, err)
		}
	}
}
