package bearer

import (
	"container/list"
	"sync"
	"time"
)

// cache is a size-bounded LRU of introspection results keyed by the SHA-256
// of the credential, so a heap dump or debugger never shows a usable token.
// A nil principal records an inactive credential. Expired entries are
// dropped when looked up or pushed out by newer ones; the size bound holds
// either way.
type cache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // front = most recently used; values are *cacheEntry
	m   map[[32]byte]*list.Element
}

type cacheEntry struct {
	key     [32]byte
	p       *Principal // nil: inactive
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, ll: list.New(), m: make(map[[32]byte]*list.Element)}
}

// get returns the cached result for key if it is still fresh at now.
func (c *cache) get(key [32]byte, now time.Time) (p *Principal, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.m[key]
	if !found {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.m, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.p, true
}

// put stores a result until expires, evicting the least recently used
// entries beyond the size bound.
func (c *cache) put(key [32]byte, p *Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, found := c.m[key]; found {
		e := el.Value.(*cacheEntry)
		e.p, e.expires = p, expires
		c.ll.MoveToFront(el)
		return
	}
	c.m[key] = c.ll.PushFront(&cacheEntry{key: key, p: p, expires: expires})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*cacheEntry).key)
	}
}

// len is the number of entries held, fresh or not.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
