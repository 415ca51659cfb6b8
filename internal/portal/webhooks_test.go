package portal_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	pub "github.com/gatehouse/gatehouse/webhook"
)

// forEachBackend runs fn on a whole Gatehouse over SQLite and over
// PostgreSQL, with webhooks allowed to loopback receivers.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	extra := map[string]string{"GATEHOUSE_WEBHOOK_DEV_LOOPBACK": "true"}
	t.Run("sqlite", func(t *testing.T) { fn(t, open(t, extra)) })
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "portaltest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		fn(t, open(t, map[string]string{"GATEHOUSE_WEBHOOK_DEV_LOOPBACK": "true",
			"GATEHOUSE_DATABASE": dsn, "GATEHOUSE_MIGRATE": "always"}))
	})
}

// hookReceiver is an app's endpoint: it verifies each request with the
// public package, under the secret the portal showed.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	ids    []string
	errs   []error
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		v, err := pub.NewVerifier(r.secret)
		if err == nil {
			err = v.Verify(req.Header, body)
		}
		r.ids, r.errs = append(r.ids, req.Header.Get(pub.HeaderID)), append(r.errs, err)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) got() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]error(nil), r.errs...)
}

// deliver runs the outbox worker until nothing is due.
func (e *env) deliver() {
	e.t.Helper()
	for range 10 {
		n, err := e.a.Outbox.RunOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

var (
	endpointIDRE = regexp.MustCompile(`data-endpoint-id="([^"]+)"`)
	deliveryIDRE = regexp.MustCompile(`data-delivery-id="([^"]+)" data-state="([a-z]+)"`)
)

func endpointForm(u string) url.Values {
	return url.Values{"url": {u}, "event_type": {"webhook.test", "app.approved"}, "description": {"Ops channel"}}
}

func TestPortalWebhooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rcv := newHookReceiver(t)
		alice := e.signIn("alice@example.com")
		appID, _ := alice.register(nil)
		if p := alice.get("/portal/apps/" + appID); !strings.Contains(p.body, `href="/portal/apps/`+appID+`/webhooks"`) {
			t.Fatalf("the app page does not link to its webhooks: %.300s", p.body)
		}
		base := "/portal/apps/" + appID + "/webhooks"
		p := alice.get(base)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="endpoints-empty"`) {
			t.Fatalf("empty webhooks page: %d %.500s", p.status, p.body)
		}

		// Refused input: the form comes back with the error and what was
		// typed, never a 500.
		bad := []struct {
			name  string
			form  url.Values
			field string
		}{
			{"plain http", endpointForm("http://hooks.example.com/in"), "must use https"},
			{"not a URL", endpointForm("hooks"), "absolute https URL"},
			{"no events", url.Values{"url": {rcv.srv.URL}, "description": {"Ops channel"}}, "Choose at least one"},
			{"unknown event", url.Values{"url": {rcv.srv.URL}, "event_type": {"user.deleted"}, "description": {"Ops channel"}}, "Unknown event type"},
		}
		for _, c := range bad {
			p := alice.post(base, c.form)
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="field-error"`) ||
				!strings.Contains(html.UnescapeString(p.body), c.field) || !strings.Contains(p.body, `value="Ops channel"`) {
				t.Errorf("%s: %d, want 400 with %q and the description kept: %.600s", c.name, p.status, c.field, p.body)
			}
		}
		if p := alice.post(base, endpointForm("http://hooks.example.com/in")); !strings.Contains(p.body, `value="http://hooks.example.com/in"`) ||
			!strings.Contains(p.body, `value="app.approved" checked`) {
			t.Error("a refused form lost the URL or the events")
		}

		// Created: the secret is shown once.
		p = alice.post(base, endpointForm(rcv.srv.URL+"/hooks"))
		m := secretRE.FindStringSubmatch(p.body)
		if p.status != http.StatusCreated || m == nil || !strings.HasPrefix(m[1], "whsec_") {
			t.Fatalf("create: %d %.800s", p.status, p.body)
		}
		rcv.secret = html.UnescapeString(m[1])
		if !strings.Contains(p.body, "you will not see this again") || !strings.Contains(p.body, `data-copy="new_secret"`) {
			t.Error("the secret is shown without the warning or the copy button")
		}
		epm := endpointIDRE.FindStringSubmatch(p.body)
		if epm == nil {
			t.Fatalf("no endpoint listed: %.800s", p.body)
		}
		ep := epm[1]
		p = alice.get(base)
		if strings.Contains(p.body, rcv.secret) || strings.Contains(p.body, `id="new_secret"`) {
			t.Error("a reload shows the secret again")
		}
		if !strings.Contains(p.body, rcv.srv.URL+"/hooks") || !strings.Contains(p.body, `data-status="active"`) {
			t.Errorf("the endpoint is not listed as active: %.800s", p.body)
		}

		// Another user sees nothing of it, through any path.
		bob := e.signIn("bob@example.com")
		bobApp, _ := bob.register(nil)
		for _, path := range []string{base, base + "/" + ep, "/portal/apps/" + bobApp + "/webhooks/" + ep} {
			if p := bob.get(path); p.status != http.StatusNotFound {
				t.Errorf("bob GET %s: %d, want 404", path, p.status)
			}
		}
		for _, action := range []string{"test", "rotate", "disable", "delete"} {
			for _, path := range []string{base + "/" + ep + "/" + action, "/portal/apps/" + bobApp + "/webhooks/" + ep + "/" + action} {
				bob.get("/portal")
				if p := bob.post(path, url.Values{"confirm": {"yes"}}); p.status != http.StatusNotFound {
					t.Errorf("bob POST %s: %d, want 404", path, p.status)
				}
			}
		}
		bob.get("/portal")
		if p := bob.post(base, endpointForm(rcv.srv.URL)); p.status != http.StatusNotFound {
			t.Errorf("bob adds an endpoint to alice's app: %d, want 404", p.status)
		}

		// Forms without the CSRF token change nothing.
		for _, token := range []string{"", "forged"} {
			f := endpointForm(rcv.srv.URL + "/other")
			f.Set("csrf_token", token)
			if p := alice.post(base, f); p.status != http.StatusForbidden {
				t.Errorf("create with csrf_token %q: %d, want 403", token, p.status)
			}
			if p := alice.post(base+"/"+ep+"/test", url.Values{"csrf_token": {token}}); p.status != http.StatusForbidden {
				t.Errorf("test with csrf_token %q: %d, want 403", token, p.status)
			}
		}
		if n := strings.Count(alice.get(base).body, "data-endpoint-id="); n != 1 {
			t.Errorf("%d endpoints after refused forms, want 1", n)
		}
		if ids, _ := rcv.got(); len(ids) != 0 {
			t.Errorf("a refused form sent %d events", len(ids))
		}

		// A test event: queued, sent by the worker, in the log.
		p = alice.post(base+"/"+ep+"/test", url.Values{})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != base+"/"+ep+"?msg=test" {
			t.Fatalf("send test: %d %q", p.status, p.header.Get("Location"))
		}
		p = alice.get(base + "/" + ep)
		dm := deliveryIDRE.FindStringSubmatch(p.body)
		if dm == nil || dm[2] != "pending" || !strings.Contains(p.body, "Not sent yet") {
			t.Fatalf("the queued test event is not in the log as pending: %.1500s", p.body)
		}
		e.deliver()
		ids, errs := rcv.got()
		if len(ids) != 1 || errs[0] != nil || ids[0] != dm[1] {
			t.Fatalf("receiver got %v (verification %v), want delivery %s", ids, errs, dm[1])
		}
		p = alice.get(base + "/" + ep)
		if m := deliveryIDRE.FindStringSubmatch(p.body); m == nil || m[2] != "delivered" ||
			strings.Count(p.body, `class="attempt"`) != 1 || !strings.Contains(p.body, `<td data-label="Status" class="attempt-status">204</td>`) ||
			!strings.Contains(p.body, `class="attempt-outcome">ok<`) || !strings.Contains(p.body, "webhook.test") {
			t.Fatalf("the log after delivery: %.2000s", p.body)
		}

		// Redeliver: the same webhook-id again, a second attempt logged.
		p = alice.post(base+"/"+ep+"/redeliver", url.Values{"delivery_id": {dm[1]}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("redeliver: %d %.300s", p.status, p.body)
		}
		e.deliver()
		if ids, errs := rcv.got(); len(ids) != 2 || ids[1] != dm[1] || errs[1] != nil {
			t.Fatalf("after redelivery the receiver got %v %v", ids, errs)
		}
		if n := strings.Count(alice.get(base+"/"+ep).body, `class="attempt"`); n != 2 {
			t.Errorf("%d attempts logged after redelivery, want 2", n)
		}
		alice.get(base + "/" + ep)
		if p := alice.post(base+"/"+ep+"/redeliver", url.Values{"delivery_id": {"msg_nope"}}); p.status != http.StatusNotFound {
			t.Errorf("redeliver an unknown delivery: %d, want 404", p.status)
		}

		// Rotation shows the new secret once and says the old one still
		// signs for a while.
		alice.get(base)
		p = alice.post(base+"/"+ep+"/rotate", url.Values{})
		m = secretRE.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil || m[1] == rcv.secret || !strings.Contains(p.body, `id="rotation-grace"`) {
			t.Fatalf("rotate: %d %.800s", p.status, p.body)
		}
		if strings.Contains(alice.get(base).body, m[1]) {
			t.Error("a reload shows the rotated secret")
		}

		// Disable, with the reason shown; enable again.
		p = alice.post(base+"/"+ep+"/disable", url.Values{})
		if p.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", p.status)
		}
		p = alice.get(base)
		if !strings.Contains(p.body, `data-status="disabled"`) || !strings.Contains(p.body, "disabled by its owner") {
			t.Errorf("the disabled endpoint does not say so: %.1000s", p.body)
		}
		if p := alice.post(base+"/"+ep+"/test", url.Values{}); p.status != http.StatusConflict {
			t.Errorf("test event to a disabled endpoint: %d, want 409", p.status)
		}
		alice.get(base)
		if p := alice.post(base+"/"+ep+"/enable", url.Values{}); p.status != http.StatusSeeOther {
			t.Fatalf("enable: %d", p.status)
		}
		if p := alice.get(base); !strings.Contains(p.body, `data-status="active"`) {
			t.Error("the endpoint is not active after enabling")
		}

		// Delete needs the box ticked.
		if p := alice.post(base+"/"+ep+"/delete", url.Values{}); p.status != http.StatusBadRequest {
			t.Errorf("delete without confirmation: %d, want 400", p.status)
		}
		if p := alice.post(base+"/"+ep+"/delete", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther {
			t.Fatalf("delete: %d", p.status)
		}
		if p := alice.get(base + "/" + ep); p.status != http.StatusNotFound {
			t.Errorf("deleted endpoint's log: %d, want 404", p.status)
		}
		if p := alice.get(base); !strings.Contains(p.body, `id="endpoints-empty"`) {
			t.Error("the deleted endpoint is still listed")
		}
	})
}

// The delivery log pages newest first, twenty at a time; an endpoint the
// worker disabled says for how long it had failed.
func TestPortalWebhookLogPagesAndDisabledReason(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.signIn("alice@example.com")
		appID, _ := alice.register(nil)
		base := "/portal/apps/" + appID + "/webhooks"
		alice.get(base)
		p := alice.post(base, endpointForm("http://127.0.0.1:9/hooks"))
		epm := endpointIDRE.FindStringSubmatch(p.body)
		if p.status != http.StatusCreated || epm == nil {
			t.Fatalf("create: %d %.500s", p.status, p.body)
		}
		ep := epm[1]
		for i := range 25 {
			alice.get(base)
			if p := alice.post(base+"/"+ep+"/test", url.Values{}); p.status != http.StatusSeeOther {
				t.Fatalf("test event %d: %d", i, p.status)
			}
		}
		first := alice.get(base + "/" + ep)
		if n := strings.Count(first.body, "data-delivery-id="); n != 20 || !strings.Contains(first.body, `rel="next"`) || strings.Contains(first.body, `rel="prev"`) {
			t.Fatalf("page 1: %d deliveries (want 20), links next %v prev %v", n, strings.Contains(first.body, `rel="next"`), strings.Contains(first.body, `rel="prev"`))
		}
		second := alice.get(base + "/" + ep + "?page=2")
		if n := strings.Count(second.body, "data-delivery-id="); n != 5 || strings.Contains(second.body, `rel="next"`) || !strings.Contains(second.body, `rel="prev"`) {
			t.Fatalf("page 2: %d deliveries (want 5)", n)
		}
		for _, m := range deliveryIDRE.FindAllStringSubmatch(second.body, -1) {
			if strings.Contains(first.body, m[1]) {
				t.Errorf("delivery %s on both pages", m[1])
			}
		}

		// The worker's own bookkeeping: failing for three days, then
		// disabled with its reason.
		ctx := context.Background()
		since := time.Now().Add(-73 * time.Hour)
		if _, err := e.a.Store.MarkWebhookEndpointFailing(ctx, ep, since); err != nil {
			t.Fatal(err)
		}
		if p := alice.get(base); !strings.Contains(p.body, `data-status="failing"`) || !strings.Contains(p.body, "Every delivery has failed since") {
			t.Errorf("a failing endpoint does not say so: %.1200s", p.body)
		}
		if err := e.a.Store.DisableWebhookEndpoint(ctx, ep, since.Add(72*time.Hour), "every delivery failed (last: HTTP 503)"); err != nil {
			t.Fatal(err)
		}
		p = alice.get(base)
		if !strings.Contains(p.body, `data-status="disabled"`) || !strings.Contains(p.body, "Disabled after failing for 3 days: every delivery failed (last: HTTP 503).") {
			t.Errorf("the disabled endpoint does not say why: %.1500s", p.body)
		}
		if strings.Contains(p.body, "/"+ep+"/test") || strings.Contains(alice.get(base+"/"+ep).body, `name="delivery_id"`) {
			t.Error("a disabled endpoint offers a test event or a redelivery")
		}
	})
}
