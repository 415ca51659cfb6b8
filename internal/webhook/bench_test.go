package webhook_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// BenchmarkDeliveries measures signed deliveries per second from one outbox
// worker to a local receiver that verifies every signature: the events are
// queued first (not timed), then drained.
//
//	go test -run '^$' -bench Deliveries -benchtime 500x ./internal/webhook
func BenchmarkDeliveries(b *testing.B) {
	for _, be := range tt.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			benchDeliveries(b, st)
		})
	}
}

func benchDeliveries(b *testing.B, st *sqlstore.Store) {
	e := newEnv(b, st, dev)
	r := newReceiver(b, e.Clock.Now)
	ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
	if err != nil {
		b.Fatal(err)
	}
	r.secret = sec
	for range b.N {
		if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	done := 0
	for done < b.N {
		n, err := e.box.RunOnce(e.Ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("only %d of %d delivered", done, b.N)
		}
		done += n
	}
	b.StopTimer()
	if got := len(r.received()); got != b.N {
		b.Fatalf("receiver got %d of %d", got, b.N)
	}
	for _, g := range r.received() {
		if g.Verified != nil {
			b.Fatal(g.Verified)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
