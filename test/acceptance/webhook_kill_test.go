package acceptance

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhook"
)

// TestWebhooksSurviveKill9AndReceiverOutage: events acknowledged by the
// admin API while the receiver is down, half of them before a SIGKILL of
// serve and half after the restart, all arrive once the receiver is back,
// signed; repeats carry the same webhook-id.
func TestWebhooksSurviveKill9AndReceiverOutage(t *testing.T) {
	dir := t.TempDir()
	const pw = "correct horse battery staple 9"
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(pw)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	run("migrate", "up")
	run("user", "create", "--email", "hooks@example.com", "--admin", "--password-stdin")
	var client struct {
		ClientID string `json:"client_id"`
	}
	if out := run("client", "create", "--name", "Hooks", "--owner", "hooks@example.com", "--redirect-uri", "https://app.example/cb", "--scope", "profile:read", "--output", "json"); json.Unmarshal(out, &client) != nil || client.ClientID == "" {
		t.Fatalf("client create: %s", out)
	}

	// The receiver's address, not listening yet: the receiver is down.
	recvAddr := freeAddr(t)
	env := []string{"GATEHOUSE_ACCESS_LOG=false", "GATEHOUSE_WEBHOOK_DEV_LOOPBACK=true"}
	addr := freeAddr(t)
	p := start(t, dir, append(env, "GATEHOUSE_ADDR="+addr), "serve")
	base := "http://" + addr
	waitReady(t, p, base, 30*time.Second)

	call := func(base, method, path, body string, basic bool, token string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if basic {
			req.SetBasicAuth("hooks@example.com", pw)
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
			}
		}
		return resp.StatusCode
	}
	var pat struct {
		Token string `json:"accessToken"`
	}
	if code := call(base, "POST", "/v0/me/tokens", `{"description":"hooks","scopes":["admin"]}`, true, "", &pat); code != 201 && code != 200 {
		t.Fatalf("PAT: %d", code)
	}
	var created struct {
		Webhook struct{ ID string } `json:"webhook"`
		Secret  string
	}
	body := `{"url":"http://` + recvAddr + `/hook","event_types":["webhook.test"]}`
	if code := call(base, "POST", "/admin/apps/"+client.ClientID+"/webhooks", body, false, pat.Token, &created); code != 201 {
		t.Fatalf("create webhook: %d %+v", code, created)
	}
	const perPhase = 10
	var ids []string
	send := func(base string) {
		for range perPhase {
			var q struct {
				DeliveryID string `json:"delivery_id"`
			}
			if code := call(base, "POST", "/admin/webhooks/"+created.Webhook.ID+"/test", "", false, pat.Token, &q); code != 202 {
				t.Fatalf("test event: %d", code)
			}
			ids = append(ids, q.DeliveryID)
		}
	}
	send(base)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil

	addr2 := freeAddr(t)
	p2 := start(t, dir, append(env, "GATEHOUSE_ADDR="+addr2), "serve")
	base2 := "http://" + addr2
	waitReady(t, p2, base2, 30*time.Second)
	send(base2)

	// The receiver comes back.
	var (
		mu   sync.Mutex
		got  = map[string]int{}
		errs []error
	)
	ln, err := net.Listen("tcp", recvAddr)
	if err != nil {
		t.Skipf("the receiver's port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: webhook.Middleware(created.Secret)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// Failed attempts retry after about a minute (plus jitter); a delivery
	// in flight at the kill waits for its lease (two minutes).
	deadline := time.Now().Add(6 * time.Minute)
	for {
		mu.Lock()
		missing := 0
		for _, id := range ids {
			if got[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never arrived\n%s", missing, len(ids), p2.log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range got {
		if !slices.Contains(ids, id) {
			errs = append(errs, &unknownID{id})
		}
	}
	for _, e := range errs {
		t.Error(e)
	}
}

type unknownID struct{ id string }

func (u *unknownID) Error() string { return "received an unknown webhook-id " + u.id }
