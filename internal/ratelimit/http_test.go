package ratelimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMiddlewareClassesAndAnswers(t *testing.T) {
	rates := map[Class]Rate{}
	for _, c := range Classes() {
		rates[c.Class] = Rate{Count: 1, Per: time.Hour, Burst: 2}
	}
	rates[SignupAddress] = Rate{} // off
	var pageCalls int
	h := Middleware(HTTPOptions{
		Limiter: NewLimiter(Options{Backend: NewMemory(time.Now)}),
		Rates:   rates,
		Page: func(w http.ResponseWriter, r *http.Request, status int, msg string) {
			pageCalls++
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte("<p>" + msg))
		},
		PendingAccount: func(r *http.Request) string { return r.Header.Get("X-Test-Account") },
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The handler still sees the form the limiter parsed.
		w.Write([]byte("ok " + r.PostFormValue("email") + r.PostFormValue("client_id")))
	}))
	send := func(method, path, remote string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, path, body)
		req.RemoteAddr = remote + ":1234"
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	t.Run("token per client across addresses", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}}
		for i, addr := range []string{"10.0.0.1", "10.0.0.2"} {
			rec := send("POST", "/oauth2/token", addr, form)
			if rec.Code != 200 || rec.Body.String() != "ok c1" {
				t.Fatalf("request %d: %d %q", i, rec.Code, rec.Body)
			}
		}
		rec := send("POST", "/oauth2/token", "10.0.0.3", form)
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("3rd request for c1 from a fresh address: %d, want 429", rec.Code)
		}
		var body map[string]string
		json.Unmarshal(rec.Body.Bytes(), &body)
		if body["error"] != "rate_limited" || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("429 body %v, headers %v", body, rec.Header())
		}
		if got := rec.Header().Get("RateLimit"); got != `"token_client";r=0;t=7200` {
			t.Fatalf("RateLimit %q", got)
		}
		if got := rec.Header().Get("RateLimit-Policy"); got != `"token_client";q=2;w=7200` {
			t.Fatalf("RateLimit-Policy %q", got)
		}
		// Basic auth names the same client.
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.RemoteAddr = "10.0.0.4:1"
		req.SetBasicAuth("c1", "s")
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != http.StatusTooManyRequests {
			t.Fatalf("c1 over Basic: %d", rr.Code)
		}
		if rec := send("POST", "/oauth2/token", "10.0.0.4", url.Values{"client_id": {"c2"}}); rec.Code != 200 {
			t.Fatalf("another client refused: %d", rec.Code)
		}
	})

	t.Run("sign-in per account and per address, HTML answer", func(t *testing.T) {
		for i, addr := range []string{"10.1.0.1", "10.1.0.2"} {
			if rec := send("POST", "/login", addr, url.Values{"email": {"A@example.com"}}); rec.Code != 200 {
				t.Fatalf("sign-in %d: %d", i, rec.Code)
			}
		}
		before := pageCalls
		rec := send("POST", "/login", "10.1.0.3", url.Values{"email": {" a@example.com "}})
		if rec.Code != http.StatusTooManyRequests || pageCalls != before+1 {
			t.Fatalf("3rd sign-in to one account: %d (page calls %d)", rec.Code, pageCalls-before)
		}
		// Second factor for a pending account, per account.
		send("POST", "/login/2fa", "10.1.1.1", url.Values{}, "X-Test-Account", "u1")
		send("POST", "/login/2fa", "10.1.1.2", url.Values{}, "X-Test-Account", "u1")
		if rec := send("POST", "/login/2fa", "10.1.1.3", url.Values{}, "X-Test-Account", "u1"); rec.Code != 429 {
			t.Fatalf("3rd second factor for u1: %d", rec.Code)
		}
		// Per address: different accounts, one address.
		send("POST", "/login", "10.1.2.1", url.Values{"email": {"x@example.com"}})
		send("POST", "/login", "10.1.2.1", url.Values{"email": {"y@example.com"}})
		if rec := send("POST", "/login", "10.1.2.1", url.Values{"email": {"z@example.com"}}); rec.Code != 429 {
			t.Fatalf("3rd sign-in from one address: %d", rec.Code)
		}
	})

	t.Run("PAT creation per account across addresses", func(t *testing.T) {
		for i, addr := range []string{"10.3.0.1", "10.3.0.2"} {
			req := httptest.NewRequest("POST", "/v0/me/tokens", strings.NewReader("{}"))
			req.RemoteAddr = addr + ":1"
			req.SetBasicAuth("Owner@example.com", "pw")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("PAT %d: %d", i, rec.Code)
			}
		}
		req := httptest.NewRequest("POST", "/v0/me/tokens", strings.NewReader("{}"))
		req.RemoteAddr = "10.3.0.3:1"
		req.SetBasicAuth("owner@example.com", "pw")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Header().Get("Content-Type"), "json") {
			t.Fatalf("3rd PAT for one account: %d %v", rec.Code, rec.Header())
		}
	})

	t.Run("admin minting with a password per account across addresses", func(t *testing.T) {
		post := func(addr, user string) int {
			req := httptest.NewRequest("POST", "/admin/apps/a1/rotate-secret", nil)
			req.RemoteAddr = addr + ":1"
			req.SetBasicAuth(user, "pw")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		for i, addr := range []string{"10.4.0.1", "10.4.0.2"} {
			if code := post(addr, "Root@example.com"); code != 200 {
				t.Fatalf("admin mint %d: %d", i, code)
			}
		}
		if code := post("10.4.0.3", "root@example.com"); code != http.StatusTooManyRequests {
			t.Fatalf("3rd password for one administrator from a fresh address: %d, want 429", code)
		}
		if code := post("10.4.0.4", "other@example.com"); code != 200 {
			t.Fatalf("another administrator refused: %d", code)
		}
	})

	t.Run("IPv6 addresses share their /64", func(t *testing.T) {
		send("POST", "/v0/credentials/revoke", "2001:db8::1", nil)
		send("POST", "/v0/credentials/revoke", "2001:db8::2", nil)
		if rec := send("POST", "/v0/credentials/revoke", "2001:db8::ffff", nil); rec.Code != 429 {
			t.Fatalf("same /64: %d", rec.Code)
		}
		if rec := send("POST", "/v0/credentials/revoke", "2001:db8:0:1::1", nil); rec.Code != 200 {
			t.Fatalf("next /64: %d", rec.Code)
		}
	})

	t.Run("admin prefix, any method; unlimited routes and off classes pass", func(t *testing.T) {
		send("GET", "/admin/users", "10.2.0.1", nil)
		send("DELETE", "/admin/users/1", "10.2.0.1", nil)
		if rec := send("GET", "/admin/audit", "10.2.0.1", nil); rec.Code != 429 {
			t.Fatalf("admin: %d", rec.Code)
		}
		for i := 0; i < 5; i++ {
			if rec := send("POST", "/signup", "10.2.0.1", url.Values{}); rec.Code != 200 {
				t.Fatalf("signup is off but refused: %d", rec.Code)
			}
			if rec := send("GET", "/login", "10.2.0.1", nil); rec.Code != 200 || rec.Header().Get("RateLimit") != "" {
				t.Fatalf("GET /login is not limited: %d %v", rec.Code, rec.Header())
			}
		}
	})
}

// TestTokenClientUnitRefundedOnFailedAuthentication: requests naming a client
// that fail to authenticate (401) do not spend its budget; authenticated
// ones do.
func TestTokenClientUnitRefundedOnFailedAuthentication(t *testing.T) {
	h := Middleware(HTTPOptions{
		Limiter: NewLimiter(Options{Backend: NewMemory(time.Now)}),
		Rates:   map[Class]Rate{TokenClient: {Count: 1, Per: time.Hour, Burst: 2}},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, _ := r.BasicAuth(); pw != "right" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("token"))
	}))
	send := func(password string) int {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("victim", password)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := 0; i < 20; i++ {
		if code := send("guess"); code != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d, want 401", i, code)
		}
	}
	for i := 0; i < 2; i++ {
		if code := send("right"); code != http.StatusOK {
			t.Fatalf("the client's own request %d after 20 failed ones: %d", i, code)
		}
	}
	if code := send("right"); code != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d, want 429", code)
	}
}
