package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps the TATs in Redis, so every replica sharing it enforces one
// limit. Each decision is one script run: Redis executes a script atomically
// ("Redis guarantees the script's atomic execution. While executing the
// script, all server activities are blocked during its entire runtime",
// Redis docs, Scripting with Lua), so concurrent requests on any replica
// cannot both spend the last unit. Time is the Redis server's clock (TIME),
// so replicas with skewed clocks still agree.
type Redis struct {
	client *redis.Client
	prefix string
}

// gcraScript mirrors gcra() in microseconds. KEYS[1] the key; ARGV[1] the
// emission interval, ARGV[2] the burst. Returns {allowed, remaining,
// retry_after_us, reset_us}. Lua numbers are doubles: microseconds since
// 1970 (≈1.8e15) stay well inside their 2^53 exact range.
var gcraScript = redis.NewScript(`
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newtat = tat + t
local allowat = newtat - burst * t
if now < allowat then
  return {0, 0, allowat - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)
return {1, math.floor((now - allowat) / t), 0, newtat - now}
`)

// refundScript moves a key's TAT one emission interval back (ARGV[1]),
// dropping the key once it has rested.
var refundScript = redis.NewScript(`
local tat = redis.call('GET', KEYS[1])
if not tat then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local newtat = tonumber(tat) - tonumber(ARGV[1])
if newtat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)
end
return 1
`)

// NewRedis connects to the Redis at url (redis:// or rediss://) and stores
// keys under prefix. It does not dial: an unreachable Redis shows up as
// errors from Take, which the Limiter turns into its failure mode.
func NewRedis(url, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	// A limiter sits in front of every limited request: a slow or dead
	// Redis must cost milliseconds, not the client's default seconds.
	opt.DialTimeout = 500 * time.Millisecond
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	// One retry, at once (a pooled connection may be stale after a Redis
	// restart); one dial attempt instead of five with backoff. The Limiter
	// then stops asking a failing backend for a while.
	opt.MaxRetries = 1
	opt.MinRetryBackoff = -1
	opt.DialerRetries = 1
	return &Redis{client: redis.NewClient(opt), prefix: prefix}, nil
}

// Close releases the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Take implements Backend.
func (r *Redis) Take(ctx context.Context, key string, rate Rate) (Decision, error) {
	res, err := gcraScript.Run(ctx, r.client, []string{r.prefix + key},
		rate.interval().Microseconds(), rate.burst()).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("redis rate limit: unexpected reply %v", res)
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Decision{Allowed: res[0] == 1, Limit: rate.burst(), Remaining: int(res[1]),
		RetryAfter: us(res[2]), Reset: us(res[3])}, nil
}

// Refund implements Backend.
func (r *Redis) Refund(ctx context.Context, key string, rate Rate) error {
	if err := refundScript.Run(ctx, r.client, []string{r.prefix + key}, rate.interval().Microseconds()).Err(); err != nil {
		return fmt.Errorf("redis rate limit refund: %w", err)
	}
	return nil
}
