package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhook"
)

// The test vector published with the Standard Webhooks specification and
// used by every reference library's tests.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(specTimestamp, 0)

func specHeader(sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, specID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(specTimestamp))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

func verifierAt(t *testing.T, secret string, now time.Time) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	return v
}

func TestSpecVector(t *testing.T) {
	sig, err := webhook.Sign(specSecret, specID, specTime, []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if sig != specSignature {
		t.Fatalf("Sign = %s, want the spec's %s", sig, specSignature)
	}
	if err := verifierAt(t, specSecret, specTime).Verify(specHeader(specSignature), []byte(specBody)); err != nil {
		t.Fatalf("spec vector does not verify: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	otherSecret := "whsec_" + "c2Vjb25kLXNlY3JldC1vZi1hdC1sZWFzdC0zMi1ieXRlcw=="
	otherSig, err := webhook.Sign(otherSecret, specID, specTime, []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"genuine", specSecret, specHeader(specSignature), specBody, specTime, nil},
		{"genuine without prefix", specSecret[len("whsec_"):], specHeader(specSignature), specBody, specTime, nil},
		{"tampered body", specSecret, specHeader(specSignature), `{"test": 2432232315}`, specTime, webhook.ErrNoMatchingSignature},
		{"wrong secret", otherSecret, specHeader(specSignature), specBody, specTime, webhook.ErrNoMatchingSignature},
		{"stale timestamp", specSecret, specHeader(specSignature), specBody, specTime.Add(5*time.Minute + time.Second), webhook.ErrInvalidTimestamp},
		{"future timestamp", specSecret, specHeader(specSignature), specBody, specTime.Add(-5*time.Minute - time.Second), webhook.ErrInvalidTimestamp},
		{"just inside tolerance", specSecret, specHeader(specSignature), specBody, specTime.Add(5 * time.Minute), nil},
		{"several signatures, one good", specSecret, specHeader(otherSig + " " + specSignature), specBody, specTime, nil},
		{"other versions ignored", specSecret, specHeader("v1a,AAAA " + specSignature[3:]), specBody, specTime, webhook.ErrNoMatchingSignature},
		{"tampered id", specSecret, func() http.Header {
			h := specHeader(specSignature)
			h.Set(webhook.HeaderID, "msg_other")
			return h
		}(), specBody, specTime, webhook.ErrNoMatchingSignature},
		{"missing signature", specSecret, func() http.Header {
			h := specHeader(specSignature)
			h.Del(webhook.HeaderSignature)
			return h
		}(), specBody, specTime, webhook.ErrMissingHeaders},
		{"timestamp not a number", specSecret, func() http.Header {
			h := specHeader(specSignature)
			h.Set(webhook.HeaderTimestamp, "yesterday")
			return h
		}(), specBody, specTime, webhook.ErrInvalidTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifierAt(t, tt.secret, tt.now).Verify(tt.header, []byte(tt.body))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := webhook.NewVerifier(bad); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("NewVerifier(%q) = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func TestSetHeadersRotation(t *testing.T) {
	newSecret := "whsec_" + "bmV3LXNlY3JldC1ieXRlcy1mb3ItdGhlLXJvdGF0aW9uLXRlc3Q="
	h := http.Header{}
	if err := webhook.SetHeaders(h, []string{newSecret, specSecret}, specID, specTime, []byte(specBody)); err != nil {
		t.Fatal(err)
	}
	// Receivers holding either secret accept the message.
	for _, s := range []string{newSecret, specSecret} {
		if err := verifierAt(t, s, specTime).Verify(h, []byte(specBody)); err != nil {
			t.Errorf("secret %s: %v", s, err)
		}
	}
	if err := webhook.SetHeaders(http.Header{}, nil, specID, specTime, nil); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Fatalf("no secrets: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	var got []byte
	h := webhook.Middleware(specSecret)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	send := func(body string, header http.Header) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewBufferString(body))
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	body := []byte(`{"type":"webhook.test"}`)
	fresh := http.Header{}
	if err := webhook.SetHeaders(fresh, []string{specSecret}, "msg_1", time.Now(), body); err != nil {
		t.Fatal(err)
	}
	if code := send(string(body), fresh); code != http.StatusNoContent || string(got) != string(body) {
		t.Fatalf("genuine: %d, handler read %q", code, got)
	}
	got = nil
	if code := send(`{"type":"webhook.forged"}`, fresh); code != http.StatusUnauthorized || got != nil {
		t.Fatalf("tampered: %d, handler called: %v", code, got != nil)
	}
	// The spec vector is years old: stale.
	if code := send(specBody, specHeader(specSignature)); code != http.StatusUnauthorized || got != nil {
		t.Fatalf("stale: %d", code)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Middleware with an invalid secret did not panic")
		}
	}()
	webhook.Middleware("whsec_!!")
}

// The reference JavaScript library verifies what Go signs (with a rotation's
// two signatures too) and signs what Go verifies.
func TestInteropStandardWebhooksNPM(t *testing.T) {
	dir, _ := filepath.Abs("../test/interop/standardwebhooks")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("standardwebhooks not installed: .ci/run must run `npm ci` in %s", dir)
		}
		t.Skipf("run `npm ci` in %s to enable this test", dir)
	}
	other := "whsec_" + "b3RoZXItc2VjcmV0LWJ5dGVzLWZvci1pbnRlcm9wLXRlc3Q="
	now := time.Now()
	type msg struct {
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	}
	mk := func(id, body string, secrets ...string) msg {
		h := http.Header{}
		if err := webhook.SetHeaders(h, secrets, id, now, []byte(body)); err != nil {
			t.Fatal(err)
		}
		return msg{h.Get(webhook.HeaderID), h.Get(webhook.HeaderTimestamp), body, h.Get(webhook.HeaderSignature)}
	}
	tampered := mk("msg_3", `{"a":1}`, specSecret)
	tampered.Body = `{"a":2}`
	messages := []msg{
		mk("msg_1", `{"type":"webhook.test","timestamp":"2026-01-01T00:00:00Z","data":{}}`, specSecret),
		mk("msg_2", `{"type":"app.approved"}`, other, specSecret), // during a rotation
		tampered,
		mk("msg_4", `{"a":1}`, other), // wrong secret
	}
	want := []bool{true, true, false, false}
	in, _ := json.Marshal(map[string]any{
		"secret":   specSecret,
		"messages": messages,
		"sign":     map[string]string{"id": "msg_js", "timestamp": strconv.FormatInt(now.Unix(), 10), "body": `{"from":"js"}`},
	})
	cmd := exec.Command("node", "interop.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res struct {
		Verified  []any  `json:"verified"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, w := range want {
		if ok := res.Verified[i] == true; ok != w {
			t.Errorf("message %d: standardwebhooks says %v, want verified=%v", i+1, res.Verified[i], w)
		}
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, "msg_js")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderSignature, res.Signature)
	if err := webhook.Verify(specSecret, h, []byte(`{"from":"js"}`)); err != nil {
		t.Fatalf("Go rejects the JS signature %q: %v", res.Signature, err)
	}
}
