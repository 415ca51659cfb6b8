package webhook_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// Prune forgets finished deliveries past the retention and keeps the rest;
// a retention of 0 keeps everything.
func TestPruneDeliveries(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
			t.Fatal(err)
		}
		e.drain(t, 3)
		// A second one stays pending: it is never pruned.
		if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
			t.Fatal(err)
		}

		service := func(retention time.Duration) *webhook.Service {
			t.Helper()
			box, err := outbox.New(e.Store, e.Clock.Now, rand.Reader, nil, nil, outbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			svc, err := webhook.New(webhook.Config{Store: e.Store, Box: e.sbox, Outbox: box, Apps: e.apps, Now: e.Clock.Now,
				Addresses: dev, DeliveryRetention: retention})
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		// drain moved the clock on by hours already: the retention is the
		// default month.
		keep, pruner := service(0), service(720*time.Hour)
		count := func() int {
			t.Helper()
			ds, err := e.svc.Deliveries(e.Ctx, e.dev, ep.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(ds)
		}
		if n, err := pruner.Prune(e.Ctx); err != nil || n != 0 {
			t.Fatalf("prune within the retention: %d %v", n, err)
		}
		e.Clock.Advance(721 * time.Hour)
		if n, err := keep.Prune(e.Ctx); err != nil || n != 0 || count() != 2 {
			t.Fatalf("prune with retention 0: %d %v, %d left", n, err, count())
		}
		if n, err := pruner.Prune(e.Ctx); err != nil || n != 1 {
			t.Fatalf("prune past the retention: %d %v", n, err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d deliveries left, want the pending one", n)
		}
	})
}
