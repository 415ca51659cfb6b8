// Package outbox delivers work off the request path through a durable queue
// in the database (store.Outbox). A caller enqueues a message inside the
// transaction of the change that caused it, so the message exists exactly
// when the change does; Run's workers claim due messages under a lease,
// hand each to its topic's handler, and record the outcome. A handler that
// fails is retried with exponential backoff and jitter until MaxAttempts,
// then the message is marked failed. A worker that dies mid-delivery loses
// its lease and another one takes the message over, so delivery is at least
// once: handlers must tolerate the rare repeat.
//
// The package knows nothing of email: topics and handlers are registered by
// their owners (internal/email registers "email"), and webhooks can use the
// same queue later.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Handler delivers one message's payload. An error means "try again later";
// wrap it with Permanent to give up at once.
type Handler = func(ctx context.Context, payload string) error

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so the message is marked failed without retries (an
// address the mail server refuses, a payload that does not decode).
func Permanent(err error) error { return permanentError{err} }

// Options tune the workers. Zero values take the defaults shown.
type Options struct {
	// Owner names this worker in leases; default: random.
	Owner string
	// Poll is how often an idle worker looks for due messages (1s).
	Poll time.Duration
	// Lease is how long a claimed message stays reserved for this worker
	// (2m); it must exceed the slowest handler, or the message may be
	// delivered twice.
	Lease time.Duration
	// Batch is how many messages one claim takes (10).
	Batch int
	// Concurrency is how many of a claimed batch are delivered at once
	// (8): one slow receiver (a webhook endpoint taking its full timeout)
	// must not hold up the messages claimed with it, and on PostgreSQL a
	// delivery's commits are round trips the others can overlap.
	Concurrency int
	// MaxAttempts before the message is marked failed (10).
	MaxAttempts int
	// BaseDelay is the first retry's delay (30s); it doubles each attempt
	// up to MaxDelay (1h), and a random part of up to half of it is added.
	BaseDelay, MaxDelay time.Duration
}

func (o *Options) defaults(r io.Reader) error {
	if o.Owner == "" {
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return fmt.Errorf("outbox: owner id: %w", err)
		}
		o.Owner = "w-" + hex.EncodeToString(b[:])
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 30 * time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Hour
	}
	return nil
}

// Outbox enqueues messages and runs their delivery.
type Outbox struct {
	store    store.Store
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
	opts     Options
	handlers map[string]Handler
	// policies override the retry schedule per topic (webhooks retry for
	// days, email for hours).
	policies map[string]Policy
	// wake lets Enqueue's callers nudge an idle worker (best effort).
	wake       chan struct{}
	deliveries *prometheus.CounterVec
}

// New builds an Outbox. reg may be nil (no metrics registered).
func New(s store.Store, now func() time.Time, r io.Reader, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Outbox, error) {
	if r == nil {
		r = rand.Reader
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := opts.defaults(r); err != nil {
		return nil, err
	}
	o := &Outbox{
		store: s, now: now, rand: r, log: log, opts: opts,
		handlers: map[string]Handler{},
		policies: map[string]Policy{},
		wake:     make(chan struct{}, 1),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_outbox_deliveries_total",
			Help: "Outbox delivery attempts by topic and outcome (delivered, retry, failed).",
		}, []string{"topic", "outcome"}),
	}
	if reg != nil {
		if err := reg.Register(o.deliveries); err != nil {
			return nil, fmt.Errorf("outbox: metrics: %w", err)
		}
	}
	return o, nil
}

// Handle registers the handler of topic. Call it before Run.
func (o *Outbox) Handle(topic string, h Handler) { o.handlers[topic] = h }

// Policy is a topic's own retry schedule; zero fields take the Options'.
type Policy struct {
	MaxAttempts         int
	BaseDelay, MaxDelay time.Duration
}

// HandlePolicy registers the handler of topic with its own retry schedule.
// Call it before Run.
func (o *Outbox) HandlePolicy(topic string, h Handler, p Policy) {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = o.opts.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = o.opts.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = o.opts.MaxDelay
	}
	o.handlers[topic] = h
	o.policies[topic] = p
}

func (o *Outbox) policy(topic string) Policy {
	if p, ok := o.policies[topic]; ok {
		return p
	}
	return Policy{MaxAttempts: o.opts.MaxAttempts, BaseDelay: o.opts.BaseDelay, MaxDelay: o.opts.MaxDelay}
}

type attemptKey struct{}

// Attempt tells a handler which attempt at its message this is (1-based)
// and whether it is the last one the topic's policy allows; 0, false
// outside a delivery.
func Attempt(ctx context.Context) (n int, last bool) {
	v, _ := ctx.Value(attemptKey{}).([2]int)
	return v[0], v[0] > 0 && v[0] >= v[1]
}

// Enqueue adds a message for topic, due now. Pass the Store InTx handed to
// the caller so the message commits (or rolls back) with the caller's
// change; a plain Store enqueues on its own.
func (o *Outbox) Enqueue(ctx context.Context, tx store.Store, topic, payload string) (string, error) {
	if _, ok := o.handlers[topic]; !ok {
		return "", fmt.Errorf("outbox: no handler for topic %q", topic)
	}
	var b [16]byte
	if _, err := io.ReadFull(o.rand, b[:]); err != nil {
		return "", fmt.Errorf("outbox: message id: %w", err)
	}
	now := o.now()
	m := &store.OutboxMessage{ID: hex.EncodeToString(b[:]), Topic: topic, Payload: payload, NextAttemptAt: now, CreatedAt: now}
	if err := tx.EnqueueOutbox(ctx, m); err != nil {
		return "", fmt.Errorf("outbox: enqueue: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return m.ID, nil
}

// Run delivers due messages until ctx ends. Several Run calls, in one
// process or many, share the work safely.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.opts.Poll)
	defer t.Stop()
	for {
		n, err := o.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.Warn("outbox: claim failed", "err", err)
		}
		if n == o.opts.Batch {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.wake:
		}
	}
}

// RunOnce claims one batch of due messages and delivers them, returning how
// many it claimed.
func (o *Outbox) RunOnce(ctx context.Context) (int, error) {
	now := o.now()
	msgs, err := o.store.ClaimOutbox(ctx, o.opts.Owner, now, now.Add(o.opts.Lease), o.opts.Batch)
	if err != nil {
		return 0, err
	}
	// Messages carry no order between them (each is retried on its own
	// schedule), so a batch is delivered in parallel, bounded.
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.opts.Concurrency)
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o.deliver(ctx, m)
		})
	}
	wg.Wait()
	return len(msgs), nil
}

func (o *Outbox) deliver(ctx context.Context, m store.OutboxMessage) {
	log := o.log.With("outbox_id", m.ID, "topic", m.Topic, "attempt", m.Attempts)
	h, ok := o.handlers[m.Topic]
	var err error
	if !ok {
		err = Permanent(fmt.Errorf("no handler for topic %q", m.Topic))
	} else {
		// Half the lease: the outcome must be recorded while the lease
		// still holds, or another worker may deliver the message again.
		hctx, cancel := context.WithTimeout(ctx, o.opts.Lease/2)
		hctx = context.WithValue(hctx, attemptKey{}, [2]int{m.Attempts, o.policy(m.Topic).MaxAttempts})
		err = safeCall(hctx, h, m.Payload)
		cancel()
	}
	// Recording the outcome must not be cut short by shutdown: the delivery
	// already happened (or failed) and redoing it is what leases are for,
	// not what a clean stop should cause.
	rctx := context.WithoutCancel(ctx)
	now := o.now()
	var outcome string
	var serr error
	var perm permanentError
	switch {
	case err == nil:
		outcome = "delivered"
		serr = o.store.CompleteOutbox(rctx, m.ID, o.opts.Owner, now)
	case errors.As(err, &perm) || m.Attempts >= o.policy(m.Topic).MaxAttempts:
		outcome = "failed"
		log.Error("outbox: giving up on message", "err", err)
		serr = o.store.FailOutbox(rctx, m.ID, o.opts.Owner, now, truncate(err.Error()))
	default:
		outcome = "retry"
		next := now.Add(o.backoff(o.policy(m.Topic), m.Attempts))
		log.Warn("outbox: delivery failed, will retry", "err", err, "next_attempt_at", next)
		serr = o.store.RetryOutbox(rctx, m.ID, o.opts.Owner, next, truncate(err.Error()))
	}
	o.deliveries.WithLabelValues(m.Topic, outcome).Inc()
	if serr != nil {
		// ErrNotFound: the lease ran out and another worker took the
		// message over; it will record its own outcome.
		log.Warn("outbox: recording outcome failed", "outcome", outcome, "err", serr)
	}
}

func safeCall(ctx context.Context, h Handler, payload string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, payload)
}

// Backoff is the delay after the attempt-th failed attempt (1-based):
// BaseDelay·2^(attempt-1), capped at MaxDelay, plus up to half of that at
// random so that messages failing together do not retry together.
func (o *Outbox) Backoff(attempt int) time.Duration {
	return o.backoff(Policy{BaseDelay: o.opts.BaseDelay, MaxDelay: o.opts.MaxDelay}, attempt)
}

// TopicBackoff is Backoff under topic's policy.
func (o *Outbox) TopicBackoff(topic string, attempt int) time.Duration {
	return o.backoff(o.policy(topic), attempt)
}

func (o *Outbox) backoff(p Policy, attempt int) time.Duration {
	d := float64(p.BaseDelay) * math.Pow(2, float64(max(attempt-1, 0)))
	if d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	var b [8]byte
	jitter := 0.0
	if _, err := io.ReadFull(o.rand, b[:]); err == nil {
		jitter = float64(binary.BigEndian.Uint64(b[:])>>11) / float64(1<<53) // [0,1)
	}
	return time.Duration(d + d/2*jitter)
}

func truncate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	// Cut on a rune boundary: PostgreSQL refuses invalid UTF-8.
	return strings.ToValidUTF8(s[:limit], "")
}

// DeliveriesMetric is gatehouse_outbox_deliveries_total (for tests and for
// registering elsewhere).
func (o *Outbox) DeliveriesMetric() *prometheus.CounterVec { return o.deliveries }
