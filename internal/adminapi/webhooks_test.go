package adminapi_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/secret"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

func newWebhooks(t *testing.T, e *tt.Env) *webhook.Service {
	t.Helper()
	master := make([]byte, 32)
	rand.Read(master)
	box, err := secret.NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(e.Store, e.Clock.Now, rand.Reader, nil, nil, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := apps.New(apps.Config{Store: e.Store, Hasher: e.Hasher, Now: e.Clock.Now, Random: rand.Reader, APIKeys: e.APIKeys, OAuth: e.OAuth})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := webhook.New(webhook.Config{Store: e.Store, Box: box, Outbox: ob, Apps: as, Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) sendWithToken(t *testing.T, method, path, token, body string) result {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	// The validator reads the request body again.
	req.Body = io.NopCloser(strings.NewReader(body))
	return result{req, res.StatusCode, res.Header, b}
}

// exerciseWebhooks drives every webhook route to a success and to errors.
func exerciseWebhooks(t *testing.T, f *fixture, check func(result)) {
	app := f.e.CreateClient("webhook-app", f.userID, "profile:read")
	base := "/admin/apps/" + app.ID + "/webhooks"
	check(f.do(t, "GET", base, f.adminPAT))
	check(f.do(t, "GET", base, f.userPAT))
	check(f.sendWithToken(t, "POST", base, f.adminPAT, `{"url":"https://127.0.0.1/hook","event_types":["app.approved"]}`)) // loopback: 400
	check(f.sendWithToken(t, "POST", base, f.adminPAT, `not json`))
	created := f.sendWithToken(t, "POST", base, f.adminPAT, `{"url":"https://93.184.215.14/hook","event_types":["app.approved","webhook.test"],"description":"ops"}`)
	check(created)
	var c struct {
		Webhook webhook.Endpoint
		Secret  string
	}
	if err := json.Unmarshal(created.body, &c); err != nil || created.status != http.StatusCreated || !strings.HasPrefix(c.Secret, "whsec_") {
		t.Fatalf("create webhook: %d %s", created.status, created.body)
	}
	listed := f.do(t, "GET", base, f.adminPAT)
	if !strings.Contains(string(listed.body), c.Webhook.ID) || strings.Contains(string(listed.body), c.Secret) {
		t.Fatalf("list shows %s", listed.body)
	}
	check(f.do(t, "POST", "/admin/webhooks/"+c.Webhook.ID+"/test", f.adminPAT))
	check(f.do(t, "POST", "/admin/webhooks/nope/test", f.adminPAT))
	log := f.do(t, "GET", "/admin/webhooks/"+c.Webhook.ID+"/deliveries", f.adminPAT)
	check(log)
	var l struct{ Deliveries []adminapi.Delivery }
	if err := json.Unmarshal(log.body, &l); err != nil || len(l.Deliveries) != 1 || l.Deliveries[0].EventType != webhook.EventTest ||
		l.Deliveries[0].State != "pending" {
		t.Fatalf("deliveries %s", log.body)
	}
	check(f.do(t, "GET", "/admin/webhooks/nope/deliveries", f.adminPAT))
	check(f.do(t, "POST", "/admin/webhooks/"+c.Webhook.ID+"/deliveries/"+l.Deliveries[0].ID+"/redeliver", f.adminPAT))
	check(f.do(t, "POST", "/admin/webhooks/"+c.Webhook.ID+"/deliveries/nope/redeliver", f.adminPAT))
}
