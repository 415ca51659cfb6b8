package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
)

// TestOverviewChartsCountRealActivity signs in (rightly and wrongly) through
// the identity service and obtains tokens over HTTP, then reads the
// console's overview as an administrator: its charts and totals show
// exactly those counts, on both backends.
func TestOverviewChartsCountRealActivity(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := openEdge(t, backend)
			a := e.app
			ctx := context.Background()
			if err := a.Store.SetAdmin(ctx, e.user.ID, true, time.Now()); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := a.Identity.CheckPassword(ctx, e.user.Email, edgePassword, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				if _, err := a.Identity.CheckPassword(ctx, e.user.Email, "not the password at all", "192.0.2.2"); err == nil {
					t.Fatal("wrong password accepted")
				}
			}
			token := func(form url.Values) int {
				t.Helper()
				req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(e.client.ID, e.secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for range 3 {
				if got := token(url.Values{"grant_type": {"client_credentials"}}); got != 200 {
					t.Fatalf("token: %d", got)
				}
			}
			// A code redeemed (the fourth token), then replayed.
			req, _ := http.NewRequest("GET", e.srv.URL+"/oauth2/authorize?response_type=code&client_id="+e.client.ID+
				"&redirect_uri="+url.QueryEscape("https://app.example/cb")+"&scope=profile:read&state=s1", nil)
			req.AddCookie(&http.Cookie{Name: "gh_session", Value: e.cookie})
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}}
			if got := token(redeem); got != 200 {
				t.Fatalf("redeem: %d", got)
			}
			if got := token(redeem); got != 400 {
				t.Fatalf("replay: %d", got)
			}

			// Nothing reaches the database until the counters flush.
			s, err := a.Activity.Last(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n := s.Total(activity.TokenIssued); n != 0 {
				t.Fatalf("%d tokens stored before any flush", n)
			}
			if err := a.Activity.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			for _, days := range []string{"", "?days=1", "?days=30"} {
				req, _ := http.NewRequest("GET", e.srv.URL+"/console"+days, nil)
				req.AddCookie(&http.Cookie{Name: "gh_session", Value: e.cookie})
				req.Header.Set("Accept", "text/html")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body := string(b)
				if resp.StatusCode != 200 {
					t.Fatalf("/console%s: %d\n%s", days, resp.StatusCode, body)
				}
				for _, want := range []string{
					`<svg class="chart" id="chart-sign-ins"`,
					`aria-label="Sign-ins: 2 successful, 3 failed"`,
					`aria-label="Tokens issued: 4 issued"`,
					`aria-label="Rate-limit refusals: no activity yet"`,
					`<dd id="total-sign-ins">2</dd>`, `<dd id="total-failures">3</dd>`, `<dd id="total-tokens">4</dd>`, `<dd id="total-replays">1</dd>`,
					`id="review-queue"`, // the review queue is still there
				} {
					if !strings.Contains(body, want) {
						t.Errorf("/console%s lacks %q", days, want)
					}
				}
				if strings.Count(body, "<svg") != 3 {
					t.Errorf("/console%s: %d charts, want 3", days, strings.Count(body, "<svg"))
				}
			}
		})
	}
}
