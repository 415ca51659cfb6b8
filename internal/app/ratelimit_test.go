package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/activity"
)

// TestRateLimitsWired: the settings reach the middleware; a refused form post
// gets a friendly HTML page, a refused token request the JSON error shape,
// both with Retry-After, and the refusals are counted per class.
func TestRateLimitsWired(t *testing.T) {
	a, srv := openPages(t, map[string]string{
		"GATEHOUSE_RATE_LIMIT_SIGNIN_ADDRESS": "1/h burst 2",
		"GATEHOUSE_RATE_LIMIT_TOKEN_CLIENT":   "1/h burst 1",
		"GATEHOUSE_RATE_LIMIT_TOKEN_ADDRESS":  "1/h burst 3",
	})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, accept string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", accept)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for i := 0; i < 2; i++ {
		if resp, _ := post("/login", url.Values{"email": {"x@example.com"}, "password": {"p"}}, "text/html"); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("sign-in %d refused early", i)
		}
	}
	resp, body := post("/login", url.Values{"email": {"y@example.com"}, "password": {"p"}}, "text/html")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many requests") {
		t.Fatalf("3rd sign-in from one address: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}

	// A client that fails to authenticate gets its unit back: naming a
	// client spends nothing of its budget (burst 1 here), only the
	// address's (burst 3).
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}}
	for i := 0; i < 3; i++ {
		if resp, _ := post("/oauth2/token", form, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token request %d: %d, want 401 (the client's unit refunded)", i, resp.StatusCode)
		}
	}
	resp, body = post("/oauth2/token", form, "")
	var e map[string]string
	json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != http.StatusTooManyRequests || e["error"] != "rate_limited" || e["error_description"] == "" ||
		resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Policy") != `"token_address";q=3;w=10800` {
		t.Fatalf("4th token request: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	hits := map[string]float64{}
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gatehouse_rate_limit_hits_total" {
			for _, m := range mf.GetMetric() {
				hits[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if hits["signin_address"] != 1 || hits["token_address"] != 1 || hits["token_client"] != 0 {
		t.Fatalf("gatehouse_rate_limit_hits_total: %v", hits)
	}
	// The overview's counter sees the same two refusals.
	if err := a.Activity.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, err := a.Activity.Last(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Total(activity.RateLimitHit); n != 2 {
		t.Fatalf("rate_limit.hit counted %d, want 2", n)
	}
}
