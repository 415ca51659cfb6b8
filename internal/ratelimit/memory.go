package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory keeps the TATs in this process: the default, for a single replica.
type Memory struct {
	now   func() time.Time
	mu    sync.Mutex
	tat   map[string]time.Time
	takes int
}

// NewMemory returns an empty in-memory backend reading time from now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tat: map[string]time.Time{}}
}

// sweepEvery: how many takes between sweeps of rested keys. A key whose TAT
// has passed is indistinguishable from an absent one, so dropping it changes
// no decision and bounds memory by the keys active within one burst period.
const sweepEvery = 4096

// Take implements Backend.
func (m *Memory) Take(_ context.Context, key string, r Rate) (Decision, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.takes++
	if m.takes%sweepEvery == 0 {
		for k, t := range m.tat {
			if !t.After(now) {
				delete(m.tat, k)
			}
		}
	}
	d, next := gcra(m.tat[key], now, r)
	if !next.IsZero() {
		m.tat[key] = next
	}
	return d, nil
}

// Refund implements Backend.
func (m *Memory) Refund(_ context.Context, key string, r Rate) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.tat[key]
	if !ok {
		return nil
	}
	if tat = tat.Add(-r.interval()); tat.After(now) {
		m.tat[key] = tat
	} else {
		delete(m.tat, key)
	}
	return nil
}

// Len is the number of keys held (for tests).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tat)
}
