package oauth

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// clientCache keeps recently authenticated clients and their secret hashes
// for a short time, so the token and introspection endpoints — which
// authenticate the client on every call — skip two queries per request.
//
// Staleness is bounded and one-sided: a NEW secret always works at once
// (a secret that does not match the cached set reloads from the store before
// failing), while a disabled client or a deleted secret keeps authenticating
// for at most the TTL on replicas that cached it. Set the TTL to 0 to turn
// the cache off.
type clientCache struct {
	ttl     time.Duration
	max     int
	mu      sync.RWMutex
	entries map[string]clientEntry
}

type clientEntry struct {
	client  *store.Client
	secrets []store.ClientSecret
	loaded  time.Time
}

func newClientCache(ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, max: 10000, entries: map[string]clientEntry{}}
}

// get returns a fresh entry for id, if any.
func (c *clientCache) get(id string, now time.Time) (clientEntry, bool) {
	if c.ttl <= 0 {
		return clientEntry{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || now.Sub(e.loaded) >= c.ttl || now.Before(e.loaded) {
		return clientEntry{}, false
	}
	return e, true
}

func (c *clientCache) put(e clientEntry) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		// Bounded memory: start over rather than track recency; the next
		// requests repopulate what is in use.
		c.entries = make(map[string]clientEntry, c.max)
	}
	c.entries[e.client.ID] = e
	c.mu.Unlock()
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// loadClient reads a client and its secrets, from the cache when fresh unless
// reload is set; cached reports which.
func (s *Service) loadClient(ctx context.Context, id string, reload bool) (e clientEntry, cached bool, err error) {
	now := s.now()
	if !reload {
		if e, ok := s.clients.get(id, now); ok {
			return e, true, nil
		}
	}
	c, err := s.st.ClientByID(ctx, id)
	if err != nil {
		return clientEntry{}, false, err
	}
	var secrets []store.ClientSecret
	if c.Type != store.ClientPublic {
		if secrets, err = s.st.ClientSecrets(ctx, id); err != nil {
			return clientEntry{}, false, err
		}
	}
	e = clientEntry{client: c, secrets: secrets, loaded: now}
	s.clients.put(e)
	return e, false, nil
}
