package webhook_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
	"github.com/gatehouse/gatehouse/internal/webhook"
	pub "github.com/gatehouse/gatehouse/webhook"
)

// receiver is an app's webhook endpoint: it verifies every request with
// the public package and answers what fail says.
type receiver struct {
	t      testing.TB
	clock  func() time.Time
	mu     sync.Mutex
	secret string
	got    []received
	// fail answers a status for the n-th request (1-based); 0 means 200.
	fail func(n int) int
	srv  *httptest.Server
	// inFlight counts concurrent requests per webhook-id.
	inFlight map[string]int
	overlap  atomic.Int64
	delay    time.Duration
}

type received struct {
	ID, Type, Signature string
	Body                string
	Verified            error
}

func newReceiver(t testing.TB, clock func() time.Time) *receiver {
	r := &receiver{t: t, clock: clock, inFlight: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get(pub.HeaderID)
	r.mu.Lock()
	r.inFlight[id]++
	if r.inFlight[id] > 1 {
		r.overlap.Add(1)
	}
	sec := r.secret
	r.mu.Unlock()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	v, err := pub.NewVerifier(sec)
	if err != nil {
		r.t.Errorf("receiver secret: %v", err)
		return
	}
	v.Now = r.clock
	rec := received{ID: id, Signature: req.Header.Get(pub.HeaderSignature), Body: string(body), Verified: v.Verify(req.Header, body)}
	r.mu.Lock()
	r.inFlight[id]--
	r.got = append(r.got, rec)
	n := len(r.got)
	r.mu.Unlock()
	status := http.StatusOK
	if r.fail != nil {
		if s := r.fail(n); s != 0 {
			status = s
		}
	}
	if status == http.StatusFound {
		w.Header().Set("Location", "https://elsewhere.example/")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.Repeat("x", 3000)) // longer than the log keeps
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type env struct {
	*tt.Env
	apps  *apps.Service
	svc   *webhook.Service
	box   *outbox.Outbox
	dev   apps.Actor
	admin apps.Actor
	appID string
	sbox  *secret.Box
}

// replica is a webhook service with its own outbox on st, as another
// replica of the server would run, sharing the master key.
func (e *env) replica(t testing.TB, st store.Store, policy webhook.AddressPolicy) (*webhook.Service, *outbox.Outbox) {
	t.Helper()
	box, err := outbox.New(st, e.Clock.Now, rand.Reader, nil, nil, outbox.Options{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := webhook.New(webhook.Config{Store: st, Box: e.sbox, Outbox: box, Apps: e.apps, Now: e.Clock.Now,
		Addresses: policy, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return svc, box
}

func newEnv(t testing.TB, st *sqlstore.Store, policy webhook.AddressPolicy) *env {
	t.Helper()
	e := &env{Env: tt.New(t, st, tt.Options{})}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	sbox, err := secret.NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.sbox = sbox
	var hook func(ctx context.Context, tx store.Store, ev apps.Event) error
	e.apps, err = apps.New(apps.Config{Store: st, Hasher: e.Hasher, Now: e.Clock.Now, Random: rand.Reader,
		APIKeys: e.APIKeys, OAuth: e.OAuth,
		OnChange: func(ctx context.Context, tx store.Store, ev apps.Event) error { return hook(ctx, tx, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.box = e.replica(t, st, policy)
	hook = e.svc.OnAppChange
	dev := e.CreateUser("dev@example.com", false)
	admin := e.CreateAdmin("admin@example.com")
	e.dev, e.admin = apps.UserActor(dev.ID, true), apps.AdminActor(admin.ID, true)
	a, _, err := e.apps.Register(e.Ctx, e.dev, apps.RegisterInput{Name: "Cards", Description: "cards",
		HomepageURL: "https://cards.example/", Type: apps.TypeWeb, RedirectURIs: []string{tt.RedirectURI}, Scopes: []string{"profile:read"}})
	if err != nil {
		t.Fatal(err)
	}
	e.appID = a.ClientID
	return e
}

var dev = webhook.AddressPolicy{DevLoopback: true}

func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	tt.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		fn(t, newEnv(t, open(t), dev))
	})
}

// drain runs the outbox until nothing is due, advancing the clock past each
// retry's backoff, at most rounds times.
func (e *env) drain(t *testing.T, rounds int) {
	t.Helper()
	for range rounds {
		n, err := e.box.RunOnce(e.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			e.Clock.Advance(webhook.RetryPolicy.MaxDelay * 2)
			if n, err = e.box.RunOnce(e.Ctx); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				return
			}
		}
	}
}

func TestAppEventSignedAndLogged(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{
			URL: r.srv.URL + "/hooks", EventTypes: []string{webhook.EventAppApproved, webhook.EventAppApproved}, Description: " ops "})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		if !strings.HasPrefix(sec, "whsec_") || len(ep.EventTypes) != 1 || ep.Description != "ops" {
			t.Fatalf("created %+v secret %q", ep, sec)
		}
		// Another developer sees nothing of it; an administrator does.
		other := e.CreateUser("other@example.com", false)
		if _, err := e.svc.Get(e.Ctx, apps.UserActor(other.ID, true), ep.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("other user: %v", err)
		}
		if _, _, err := e.svc.Create(e.Ctx, apps.UserActor(other.ID, true), e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}}); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("other user creates: %v", err)
		}
		if _, err := e.svc.Get(e.Ctx, e.admin, ep.ID); err != nil {
			t.Fatal(err)
		}

		// Rejection is not subscribed; approval is.
		if _, err := e.apps.Reject(e.Ctx, e.admin, e.appID, "no logo"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.apps.Approve(e.Ctx, e.admin, e.appID, apps.ApproveInput{}); err != nil {
			t.Fatal(err)
		}
		e.drain(t, 5)
		got := r.received()
		if len(got) != 1 {
			t.Fatalf("received %d requests, want 1: %+v", len(got), got)
		}
		if got[0].Verified != nil {
			t.Fatalf("signature does not verify: %v", got[0].Verified)
		}
		for _, want := range []string{`"type":"app.approved"`, `"app_id":"` + e.appID + `"`, `"version":"` + webhook.CatalogVersion + `"`, `"timestamp":"`} {
			if !strings.Contains(got[0].Body, want) {
				t.Errorf("body %s lacks %s", got[0].Body, want)
			}
		}
		ds, err := e.svc.Deliveries(e.Ctx, e.dev, ep.ID, 10)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %v %v", ds, err)
		}
		d, err := e.svc.Delivery(e.Ctx, e.dev, ep.ID, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.ID != got[0].ID || d.State != store.WebhookDelivered || len(d.Attempts) != 1 || d.Attempts[0].Status != 200 ||
			len(d.Attempts[0].Response) != webhook.MaxResponseLog {
			t.Fatalf("delivery log %+v", d)
		}

		// A rolled-back change sends nothing: the event commits with it.
		if _, err := e.apps.Approve(e.Ctx, apps.UserActor(other.ID, true), e.appID, apps.ApproveInput{}); err == nil {
			t.Fatal("a developer approved an app")
		}
		e.drain(t, 3)
		if n := len(r.received()); n != 1 {
			t.Fatalf("after a refused change: %d requests", n)
		}
	})
}

// The receiver is down (503, then a redirect, which is not followed) for a
// while: every event still arrives once it is back, and the retries of one
// event share its webhook-id.
func TestReceiverDownThenUp(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		r.fail = func(n int) int {
			switch {
			case n <= 6:
				return http.StatusServiceUnavailable
			case n <= 8:
				return http.StatusFound
			}
			return 0
		}
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		const events = 4
		sent := map[string]bool{}
		for range events {
			id, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			sent[id] = true
		}
		e.drain(t, 40)
		got := r.received()
		delivered := map[string]int{}
		for i, g := range got {
			if g.Verified != nil {
				t.Fatalf("request %d: %v", i, g.Verified)
			}
			if !sent[g.ID] {
				t.Fatalf("unknown webhook-id %s", g.ID)
			}
			delivered[g.ID]++
		}
		if len(delivered) != events || len(got) != 8+events {
			t.Fatalf("%d requests for %d ids, want %d for %d", len(got), len(delivered), 8+events, events)
		}
		for id := range sent {
			d, err := e.svc.Delivery(e.Ctx, e.dev, ep.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.State != store.WebhookDelivered || d.Attempts[len(d.Attempts)-1].Status != 200 {
				t.Fatalf("delivery %s: %+v", id, d)
			}
			for i, a := range d.Attempts[:len(d.Attempts)-1] {
				if a.Status != 503 && a.Status != 302 || a.Attempt != i+1 {
					t.Fatalf("attempt %+v", a)
				}
			}
		}
		// A success ends the run of failures.
		now, err := e.svc.Get(e.Ctx, e.dev, ep.ID)
		if err != nil || now.FailingSince != nil {
			t.Fatalf("endpoint %+v %v", now, err)
		}

		// Redelivery: the same webhook-id again.
		var first string
		for id := range sent {
			first = id
			break
		}
		if err := e.svc.Redeliver(e.Ctx, e.dev, ep.ID, first); err != nil {
			t.Fatal(err)
		}
		e.drain(t, 3)
		got = r.received()
		if last := got[len(got)-1]; last.ID != first || last.Verified != nil {
			t.Fatalf("redelivered %+v", last)
		}

		// Redelivering a pending delivery leaves it to its schedule: it
		// arrives once.
		pending, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := e.svc.Redeliver(e.Ctx, e.dev, ep.ID, pending); err != nil {
				t.Fatal(err)
			}
		}
		e.drain(t, 3)
		n := 0
		for _, g := range r.received() {
			if g.ID == pending {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("a pending delivery redelivered twice arrived %d times", n)
		}
	})
}

// During a rotation both secrets sign; afterwards only the new one.
func TestRotation(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		ep, old, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
		if err != nil {
			t.Fatal(err)
		}
		fresh, view, err := e.svc.RotateSecret(e.Ctx, e.dev, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fresh == old || view.PreviousSecretUntil == nil {
			t.Fatalf("rotation: %+v", view)
		}
		for _, sec := range []string{old, fresh} {
			r.secret = sec
			if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
				t.Fatal(err)
			}
			e.drain(t, 2)
			got := r.received()
			if last := got[len(got)-1]; last.Verified != nil || len(strings.Fields(last.Signature)) != 2 {
				t.Fatalf("during the grace period, secret %s: %v (%s)", sec[:10], last.Verified, last.Signature)
			}
		}
		e.Clock.Advance(webhook.DefaultRotationGrace + time.Second)
		r.secret = old
		if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
			t.Fatal(err)
		}
		n, err := e.box.RunOnce(e.Ctx)
		if err != nil || n != 1 {
			t.Fatalf("run: %d %v", n, err)
		}
		got := r.received()
		if last := got[len(got)-1]; !errors.Is(last.Verified, pub.ErrNoMatchingSignature) || len(strings.Fields(last.Signature)) != 1 {
			t.Fatalf("after the grace period the old secret still verifies: %v %s", last.Verified, last.Signature)
		}
	})
}

// An endpoint failing for days is disabled and its owner sees why; its
// deliveries end failed.
func TestFailingEndpointDisabled(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		r.fail = func(int) int { return http.StatusInternalServerError }
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		id, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t, 40)
		got, err := e.svc.Get(e.Ctx, e.dev, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Disabled || !strings.Contains(got.DisabledReason, "HTTP 500") {
			t.Fatalf("endpoint %+v", got)
		}
		d, err := e.svc.Delivery(e.Ctx, e.dev, ep.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != store.WebhookFailed || len(d.Attempts) < 2 || len(d.Attempts) > webhook.RetryPolicy.MaxAttempts {
			t.Fatalf("delivery %s with %d attempts", d.State, len(d.Attempts))
		}
		if span := d.Attempts[len(d.Attempts)-1].At.Sub(d.Attempts[0].At); span < webhook.DefaultDisableAfter {
			t.Fatalf("disabled after %s", span)
		}
		if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); !errors.Is(err, webhook.ErrDisabled) {
			t.Fatalf("test event to a disabled endpoint: %v", err)
		}
		if _, err := e.svc.SetEnabled(e.Ctx, e.dev, ep.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.svc.Get(e.Ctx, e.dev, ep.ID); got.Disabled || got.FailingSince != nil {
			t.Fatalf("re-enabled %+v", got)
		}
	})
}

func TestAddressPolicy(t *testing.T) {
	ctx := context.Background()
	prod := webhook.AddressPolicy{Allowed: []string{"10.9.0.0/16", "hooks.internal"}}
	tests := []struct {
		url    string
		policy webhook.AddressPolicy
		ok     bool
	}{
		{"https://93.184.215.14/hook", prod, true},
		{"https://127.0.0.1/hook", prod, false},
		{"https://[::1]/hook", prod, false},
		{"https://10.0.0.5/hook", prod, false},
		{"https://10.9.1.1/hook", prod, true}, // allowed CIDR
		{"https://hooks.internal/hook", prod, true},
		{"https://169.254.169.254/latest/meta-data", prod, false},
		{"https://100.100.100.200/", prod, false},
		{"https://[fd00:ec2::254]/", prod, false},
		{"https://[::ffff:127.0.0.1]/", prod, false},
		{"https://0.0.0.0/", prod, false},
		{"http://93.184.215.14/hook", prod, false}, // http only to loopback in development
		{"http://127.0.0.1:8080/hook", prod, false},
		{"http://127.0.0.1:8080/hook", dev, true},
		{"http://localhost:8080/hook", dev, true},
		{"https://user:pw@93.184.215.14/", prod, false},
		{"ftp://93.184.215.14/", prod, false},
		{"/relative", prod, false},
	}
	for _, tc := range tests {
		p := tc.policy
		_, err := p.CheckURL(ctx, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, webhook.ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tc.url, err)
		}
	}
	if err := prod.CheckAddr(netip.MustParseAddr("192.168.1.1")); err == nil {
		t.Error("192.168.1.1 allowed")
	}
}

// In production an endpoint whose name later resolves to an internal
// address is refused at connection time, after DNS: the endpoint below was
// registered under the development policy, then a replica running the
// production policy delivers, and its dialer refuses the loopback address.
func TestDeliveryRefusesInternalAddressAfterDNS(t *testing.T) {
	st := tt.OpenSQLite(t)
	e := newEnv(t, st, dev)
	r := newReceiver(t, e.Clock.Now)
	ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
	if err != nil {
		t.Fatal(err)
	}
	r.secret = sec
	id, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, prodBox := e.replica(t, st, webhook.AddressPolicy{})
	if n, err := prodBox.RunOnce(e.Ctx); err != nil || n != 1 {
		t.Fatalf("run: %d %v", n, err)
	}
	if n := len(r.received()); n != 0 {
		t.Fatalf("the production policy connected to loopback (%d requests)", n)
	}
	d, err := e.svc.Delivery(e.Ctx, e.dev, ep.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.WebhookPending || len(d.Attempts) != 1 || !strings.Contains(d.Attempts[0].Error, "loopback") {
		t.Fatalf("delivery %+v", d)
	}
}

// Two workers on two replicas' stores share the deliveries: every event
// arrives once, and no delivery is ever in flight twice at once.
func TestTwoWorkersNeverOverlap(t *testing.T) {
	tt.ForEachBackendReplicas(t, 2, func(t *testing.T, stores []*sqlstore.Store) {
		e := newEnv(t, stores[0], dev)
		r := newReceiver(t, e.Clock.Now)
		r.delay = 5 * time.Millisecond
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL, EventTypes: []string{webhook.EventTest}})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		const events = 40
		for range events {
			if _, err := e.svc.SendTest(e.Ctx, e.dev, ep.ID); err != nil {
				t.Fatal(err)
			}
		}
		_, box1 := e.replica(t, stores[0], dev)
		_, box2 := e.replica(t, stores[1], dev)
		deadline := time.Now().Add(2 * time.Minute)
		var wg sync.WaitGroup
		for _, b := range []*outbox.Outbox{box1, box2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for len(r.received()) < events && time.Now().Before(deadline) {
					if _, err := b.RunOnce(e.Ctx); err != nil && !errors.Is(err, store.ErrSerialization) {
						t.Errorf("worker: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		got := r.received()
		seen := map[string]bool{}
		for _, g := range got {
			if g.Verified != nil {
				t.Fatalf("signature: %v", g.Verified)
			}
			if seen[g.ID] {
				t.Fatalf("%s delivered twice", g.ID)
			}
			seen[g.ID] = true
		}
		if len(seen) != events {
			t.Fatalf("%d of %d delivered", len(seen), events)
		}
		if n := r.overlap.Load(); n != 0 {
			t.Fatalf("%d deliveries were in flight twice at once", n)
		}
	})
}

// The OAuth events reach the client's endpoints subscribed to them; a
// rolled-back change sends nothing.
func TestOAuthEvents(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		r := newReceiver(t, e.Clock.Now)
		ep, sec, err := e.svc.Create(e.Ctx, e.dev, e.appID, webhook.EndpointInput{URL: r.srv.URL,
			EventTypes: []string{webhook.EventAuthorizationGranted, webhook.EventAuthorizationRevoked, webhook.EventTokenRevoked}})
		if err != nil {
			t.Fatal(err)
		}
		r.secret = sec
		events := []oauth.Event{
			{Kind: oauth.EventAuthorizationGranted, ClientID: e.appID, UserID: "u1", Scopes: []string{"profile:read"}},
			{Kind: oauth.EventTokenRevoked, ClientID: e.appID, UserID: "u1", TokenKind: store.TokenRefresh},
			{Kind: oauth.EventAuthorizationRevoked, ClientID: e.appID, UserID: "u1"},
		}
		for _, ev := range events {
			if err := e.Store.InTx(e.Ctx, func(tx store.Store) error { return e.svc.OnOAuthEvent(e.Ctx, tx, ev) }); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("the change failed")
		err = e.Store.InTx(e.Ctx, func(tx store.Store) error {
			if err := e.svc.OnOAuthEvent(e.Ctx, tx, events[0]); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		e.drain(t, 5)
		got := r.received()
		if len(got) != 3 {
			t.Fatalf("received %d, want 3", len(got))
		}
		want := []string{`"type":"authorization.granted"`, `"type":"token.revoked"`, `"type":"authorization.revoked"`}
		bodies := ""
		for _, g := range got {
			if g.Verified != nil {
				t.Fatal(g.Verified)
			}
			bodies += g.Body
		}
		for _, w := range append(want, `"scopes":["profile:read"]`, `"token_type":"refresh"`, `"user_id":"u1"`) {
			if !strings.Contains(bodies, w) {
				t.Errorf("no %s in %s", w, bodies)
			}
		}
		_ = ep
	})
}
