package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Webhook endpoints round-trip every field, belong to their app (deleting
// the app deletes them), keep the first start of a run of failures and the
// first reason they were disabled for; deliveries log each attempt once, in
// order, with the state change in the same write.

func webhookCases() []testCase {
	return []testCase{
		{"webhooks/endpoint_crud", testWebhookEndpointCRUD},
		{"webhooks/failing_disable", testWebhookFailingDisable},
		{"webhooks/deliveries", testWebhookDeliveries},
		{"webhooks/prune", testWebhookPrune},
		{"race/webhook_attempt", testRaceWebhookAttempt},
	}
}

func (f *fixture) webhookEndpoint(clientID string) *store.WebhookEndpoint {
	f.t.Helper()
	e := &store.WebhookEndpoint{
		ID: f.id("whep"), ClientID: clientID, URL: "https://hooks.example.com/in",
		EventTypes: []string{"app.approved", "token.revoked"}, Description: "Ops channel",
		Secret: "v1:sealed", CreatedAt: f.now, UpdatedAt: f.now,
	}
	must(f.t, f.s.CreateWebhookEndpoint(f.ctx, e))
	return e
}

func (f *fixture) webhookDelivery(endpointID string, at time.Time) *store.WebhookDelivery {
	f.t.Helper()
	d := &store.WebhookDelivery{ID: f.id("msg"), EndpointID: endpointID, EventType: "webhook.test",
		Payload: `{"type":"webhook.test"}`, State: store.WebhookPending, CreatedAt: at, UpdatedAt: at}
	must(f.t, f.s.CreateWebhookDelivery(f.ctx, d))
	return d
}

func testWebhookEndpointCRUD(t *testing.T, f *fixture) {
	u := f.user()
	c := f.client(u.ID)
	other := f.client(u.ID)
	a := f.webhookEndpoint(c.ID)
	f.now = f.at(time.Second)
	b := f.webhookEndpoint(c.ID)
	f.webhookEndpoint(other.ID)

	wantErr(t, f.s.CreateWebhookEndpoint(f.ctx, a), store.ErrConflict)
	wantErr(t, f.s.CreateWebhookEndpoint(f.ctx, &store.WebhookEndpoint{ID: "x", ClientID: "no-such-app", Secret: "s",
		CreatedAt: f.now, UpdatedAt: f.now}), store.ErrNotFound)

	got, err := f.s.WebhookEndpointByID(f.ctx, a.ID)
	must(t, err)
	equal(t, "client", got.ClientID, c.ID)
	equal(t, "url", got.URL, a.URL)
	equal(t, "types", got.EventTypes, a.EventTypes)
	equal(t, "description", got.Description, a.Description)
	equal(t, "secret", got.Secret, a.Secret)
	equal(t, "previous", got.PreviousSecret, "")
	if got.PreviousSecretExpiresAt != nil || got.DisabledAt != nil || got.FailingSince != nil {
		t.Fatalf("fresh endpoint has dates: %+v", got)
	}
	_, err = f.s.WebhookEndpointByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	list, err := f.s.ListWebhookEndpoints(f.ctx, c.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("list: %+v", list)
	}

	// A rotation: the new secret signs, the old one until its expiry.
	exp := f.at(24 * time.Hour)
	got.URL, got.EventTypes, got.Description = "https://hooks.example.com/v2", []string{"webhook.test"}, "changed"
	got.Secret, got.PreviousSecret, got.PreviousSecretExpiresAt = "v1:new", "v1:sealed", &exp
	got.UpdatedAt = f.at(time.Minute)
	must(t, f.s.UpdateWebhookEndpoint(f.ctx, got))
	again, err := f.s.WebhookEndpointByID(f.ctx, a.ID)
	must(t, err)
	equal(t, "url", again.URL, "https://hooks.example.com/v2")
	equal(t, "types", again.EventTypes, []string{"webhook.test"})
	equal(t, "secret", again.Secret, "v1:new")
	equal(t, "previous", again.PreviousSecret, "v1:sealed")
	if again.PreviousSecretExpiresAt == nil || !again.PreviousSecretExpiresAt.Equal(exp.Truncate(time.Millisecond)) {
		t.Fatalf("previous expiry %v", again.PreviousSecretExpiresAt)
	}
	equal(t, "updated", again.UpdatedAt, f.at(time.Minute).Truncate(time.Millisecond))
	equal(t, "created", again.CreatedAt, a.CreatedAt.Truncate(time.Millisecond))
	wantErr(t, f.s.UpdateWebhookEndpoint(f.ctx, &store.WebhookEndpoint{ID: "nope"}), store.ErrNotFound)

	// Deleting needs the owning app.
	wantErr(t, f.s.DeleteWebhookEndpoint(f.ctx, other.ID, a.ID), store.ErrNotFound)
	must(t, f.s.DeleteWebhookEndpoint(f.ctx, c.ID, a.ID))
	wantErr(t, f.s.DeleteWebhookEndpoint(f.ctx, c.ID, a.ID), store.ErrNotFound)

	// Deleting the app deletes its endpoints and their deliveries.
	d := f.webhookDelivery(b.ID, f.now)
	must(t, f.s.DeleteClient(f.ctx, c.ID))
	list, err = f.s.ListWebhookEndpoints(f.ctx, c.ID)
	must(t, err)
	equal(t, "after app deleted", len(list), 0)
	_, err = f.s.WebhookDeliveryByID(f.ctx, d.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testWebhookFailingDisable(t *testing.T, f *fixture) {
	u := f.user()
	e := f.webhookEndpoint(f.client(u.ID).ID)

	since, err := f.s.MarkWebhookEndpointFailing(f.ctx, e.ID, f.at(time.Minute))
	must(t, err)
	equal(t, "since", since, f.at(time.Minute).Truncate(time.Millisecond))
	since, err = f.s.MarkWebhookEndpointFailing(f.ctx, e.ID, f.at(time.Hour))
	must(t, err)
	equal(t, "run keeps its start", since, f.at(time.Minute).Truncate(time.Millisecond))
	_, err = f.s.MarkWebhookEndpointFailing(f.ctx, "nope", f.now)
	wantErr(t, err, store.ErrNotFound)

	must(t, f.s.ClearWebhookEndpointFailing(f.ctx, e.ID))
	got, err := f.s.WebhookEndpointByID(f.ctx, e.ID)
	must(t, err)
	if got.FailingSince != nil {
		t.Fatalf("failing since %v after success", got.FailingSince)
	}
	since, err = f.s.MarkWebhookEndpointFailing(f.ctx, e.ID, f.at(2*time.Hour))
	must(t, err)
	equal(t, "new run", since, f.at(2*time.Hour).Truncate(time.Millisecond))

	must(t, f.s.DisableWebhookEndpoint(f.ctx, e.ID, f.at(3*time.Hour), "failing for 3 days"))
	must(t, f.s.DisableWebhookEndpoint(f.ctx, e.ID, f.at(4*time.Hour), "second reason"))
	got, err = f.s.WebhookEndpointByID(f.ctx, e.ID)
	must(t, err)
	if got.DisabledAt == nil || !got.DisabledAt.Equal(f.at(3*time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("disabled at %v", got.DisabledAt)
	}
	equal(t, "reason", got.DisabledReason, "failing for 3 days")
	wantErr(t, f.s.DisableWebhookEndpoint(f.ctx, "nope", f.now, "x"), store.ErrNotFound)
}

func testWebhookDeliveries(t *testing.T, f *fixture) {
	u := f.user()
	e := f.webhookEndpoint(f.client(u.ID).ID)
	d1 := f.webhookDelivery(e.ID, f.now)
	d2 := f.webhookDelivery(e.ID, f.at(time.Second))
	d3 := f.webhookDelivery(e.ID, f.at(2*time.Second))
	wantErr(t, f.s.CreateWebhookDelivery(f.ctx, d1), store.ErrConflict)
	wantErr(t, f.s.CreateWebhookDelivery(f.ctx, &store.WebhookDelivery{ID: "x", EndpointID: "nope", State: store.WebhookPending}),
		store.ErrNotFound)

	list, err := f.s.ListWebhookDeliveries(f.ctx, e.ID, 2)
	must(t, err)
	if len(list) != 2 || list[0].ID != d3.ID || list[1].ID != d2.ID {
		t.Fatalf("newest first, limited: %+v", list)
	}
	equal(t, "payload", list[0].Payload, d3.Payload)
	equal(t, "type", list[0].EventType, "webhook.test")

	a1 := store.WebhookAttempt{Attempt: 1, At: f.at(time.Minute), Status: 0, Latency: 10 * time.Second, Error: "timeout"}
	a2 := store.WebhookAttempt{Attempt: 2, At: f.at(time.Hour), Status: 204, Latency: 35 * time.Millisecond, Response: "ok"}
	must(t, f.s.RecordWebhookAttempt(f.ctx, d1.ID, a1, store.WebhookPending))
	must(t, f.s.RecordWebhookAttempt(f.ctx, d1.ID, a2, store.WebhookDelivered))
	wantErr(t, f.s.RecordWebhookAttempt(f.ctx, d1.ID, a2, store.WebhookFailed), store.ErrConflict)
	wantErr(t, f.s.RecordWebhookAttempt(f.ctx, "nope", a1, store.WebhookFailed), store.ErrNotFound)

	got, err := f.s.WebhookDeliveryByID(f.ctx, d1.ID)
	must(t, err)
	equal(t, "state", got.State, store.WebhookDelivered) // the refused duplicate changed nothing
	equal(t, "updated", got.UpdatedAt, f.at(time.Hour).Truncate(time.Millisecond))
	equal(t, "attempts", len(got.Attempts), 2)
	first, second := got.Attempts[0], got.Attempts[1]
	equal(t, "1 at", first.At, a1.At.Truncate(time.Millisecond))
	equal(t, "1 status", first.Status, 0)
	equal(t, "1 latency", first.Latency, a1.Latency)
	equal(t, "1 error", first.Error, "timeout")
	equal(t, "2 number", second.Attempt, 2)
	equal(t, "2 status", second.Status, 204)
	equal(t, "2 response", second.Response, "ok")
	equal(t, "2 latency", second.Latency, a2.Latency)

	moved, err := f.s.RequeueWebhookDelivery(f.ctx, d1.ID, f.at(2*time.Hour))
	must(t, err)
	equal(t, "requeued", moved, true)
	got, err = f.s.WebhookDeliveryByID(f.ctx, d1.ID)
	must(t, err)
	equal(t, "redelivered state", got.State, store.WebhookPending)
	equal(t, "requeued at", got.UpdatedAt, f.at(2*time.Hour).Truncate(time.Millisecond))
	// Pending already: not queued twice.
	moved, err = f.s.RequeueWebhookDelivery(f.ctx, d1.ID, f.at(3*time.Hour))
	must(t, err)
	equal(t, "requeued twice", moved, false)
	_, err = f.s.RequeueWebhookDelivery(f.ctx, "nope", f.now)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.WebhookDeliveryByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
}

// Two workers logging the same attempt number: exactly one row is written.
func testRaceWebhookAttempt(t *testing.T, f *fixture) {
	u := f.user()
	e := f.webhookEndpoint(f.client(u.ID).ID)
	d := f.webhookDelivery(e.ID, f.now)
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		oks  int
		errs []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f.s.RecordWebhookAttempt(f.ctx, d.ID, store.WebhookAttempt{Attempt: 1, At: f.at(time.Duration(i) * time.Second), Status: 200 + i},
				store.WebhookDelivered)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				oks++
			} else {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	equal(t, "successes", oks, 1)
	for _, err := range errs {
		wantErr(t, err, store.ErrConflict)
	}
	got, err := f.s.WebhookDeliveryByID(f.ctx, d.ID)
	must(t, err)
	equal(t, "attempts", len(got.Attempts), 1)
}

// Pruning deletes finished deliveries last changed before the cut-off with
// their attempts, and never a pending one, however old.
func testWebhookPrune(t *testing.T, f *fixture) {
	u := f.user()
	e := f.webhookEndpoint(f.client(u.ID).ID)
	old := f.webhookDelivery(e.ID, f.now)        // delivered long ago: goes
	oldFailed := f.webhookDelivery(e.ID, f.now)  // failed long ago: goes
	oldPending := f.webhookDelivery(e.ID, f.now) // pending: stays
	recent := f.webhookDelivery(e.ID, f.now)     // delivered after the cut-off: stays
	requeued := f.webhookDelivery(e.ID, f.now)   // delivered long ago, requeued after: stays
	must(t, f.s.RecordWebhookAttempt(f.ctx, old.ID, store.WebhookAttempt{Attempt: 1, At: f.at(time.Minute), Status: 200}, store.WebhookDelivered))
	must(t, f.s.RecordWebhookAttempt(f.ctx, oldFailed.ID, store.WebhookAttempt{Attempt: 1, At: f.at(time.Minute), Status: 500}, store.WebhookFailed))
	must(t, f.s.RecordWebhookAttempt(f.ctx, recent.ID, store.WebhookAttempt{Attempt: 1, At: f.at(3 * time.Hour), Status: 200}, store.WebhookDelivered))
	must(t, f.s.RecordWebhookAttempt(f.ctx, requeued.ID, store.WebhookAttempt{Attempt: 1, At: f.at(time.Minute), Status: 200}, store.WebhookDelivered))
	moved, err := f.s.RequeueWebhookDelivery(f.ctx, requeued.ID, f.at(3*time.Hour))
	must(t, err)
	equal(t, "requeued", moved, true)

	cut := f.at(2 * time.Hour)
	n, err := f.s.DeleteFinishedWebhookDeliveries(f.ctx, cut)
	must(t, err)
	equal(t, "deleted", n, int64(2))
	for _, d := range []*store.WebhookDelivery{old, oldFailed} {
		_, err := f.s.WebhookDeliveryByID(f.ctx, d.ID)
		wantErr(t, err, store.ErrNotFound)
	}
	for _, d := range []*store.WebhookDelivery{oldPending, recent, requeued} {
		if _, err := f.s.WebhookDeliveryByID(f.ctx, d.ID); err != nil {
			t.Errorf("delivery %s deleted: %v", d.ID, err)
		}
	}
	got, err := f.s.WebhookDeliveryByID(f.ctx, recent.ID)
	must(t, err)
	equal(t, "kept attempts", len(got.Attempts), 1)
	// The attempts went with their deliveries: a new delivery under the
	// old id starts with none.
	again := &store.WebhookDelivery{ID: old.ID, EndpointID: e.ID, EventType: "webhook.test", Payload: "{}",
		State: store.WebhookPending, CreatedAt: cut, UpdatedAt: cut}
	must(t, f.s.CreateWebhookDelivery(f.ctx, again))
	got, err = f.s.WebhookDeliveryByID(f.ctx, old.ID)
	must(t, err)
	equal(t, "attempts of a pruned delivery", len(got.Attempts), 0)
	n, err = f.s.DeleteFinishedWebhookDeliveries(f.ctx, cut)
	must(t, err)
	equal(t, "deleted again", n, int64(0))
}
