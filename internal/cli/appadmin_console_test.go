package cli

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/store"
)

// TestCLIAndConsoleProduceTheSameAppState reviews two apps in the same
// state, one through the CLI and one through the console's CSRF-protected
// forms, and compares what is stored.
func TestCLIAndConsoleProduceTheSameAppState(t *testing.T) {
	db := newDB(t)
	for _, u := range []struct {
		email string
		admin bool
	}{{"root@example.com", true}, {"dev@example.com", false}} {
		args := []string{"user", "create", "--email", u.email, "--password-stdin"}
		if u.admin {
			args = append(args, "--admin")
		}
		if code, _, errs := runCLI(t, db, "vivid otter anchors the lamp\n", args...); code != 0 {
			t.Fatalf("create %s: %s", u.email, errs)
		}
	}
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Environ: func() []string { return nil },
		Getenv: func(k string) string {
			return map[string]string{"GATEHOUSE_MASTER_KEY": testKey, "GATEHOUSE_DATABASE": db, "GATEHOUSE_LOG_LEVEL": "error"}[k]
		}}
	ctx := context.Background()
	a, err := env.OpenApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := a.Now()
	dev, err := a.Store.UserByEmail(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SetEmailVerified(ctx, dev.ID, &now); err != nil {
		t.Fatal(err)
	}
	// pending registers, as the developer, an app awaiting review with
	// client_credentials awaiting its own approval.
	pending := func(name string) string {
		t.Helper()
		ap, _, err := a.Apps.Register(ctx, apps.UserActor(dev.ID, true), apps.RegisterInput{
			Name: name, Type: apps.TypeM2M, Scopes: []string{"profile:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if ap.Status != apps.StatusPending || !slices.Equal(ap.PendingGrants, []string{"client_credentials"}) {
			t.Fatalf("registered %+v, want pending with client_credentials awaiting review", ap)
		}
		return ap.ID
	}

	srv := httptest.NewServer(a.Handler("test"))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	get := func(path string) (int, string) {
		t.Helper()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(action string, form url.Values) (int, string, string) {
		t.Helper()
		res, err := client.PostForm(srv.URL+action, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Location"), string(b)
	}
	submit := func(formPage, action string, form url.Values) (int, string, string) {
		t.Helper()
		_, body := get(formPage)
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token on %s:\n%s", formPage, body)
		}
		form.Set("csrf_token", html.UnescapeString(m[1]))
		return post(action, form)
	}
	if code, loc, _ := submit("/login", "/login", url.Values{"email": {"root@example.com"}, "password": {"vivid otter anchors the lamp"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", code, loc)
	}

	comparable := func(id string) store.Client {
		t.Helper()
		c, err := a.Store.ClientByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// Ids, names and times differ by design.
		c.ID, c.Name, c.CreatedAt, c.UpdatedAt = "", "", time.Time{}, time.Time{}
		return *c
	}
	same := func(what, byCLI, byConsole string) {
		t.Helper()
		j1, _ := json.Marshal(comparable(byCLI))
		j2, _ := json.Marshal(comparable(byConsole))
		if string(j1) != string(j2) {
			t.Errorf("%s: CLI stored %s\nconsole stored %s", what, j1, j2)
		}
	}
	byCLI, byConsole := pending("Sync A"), pending("Sync B")
	// The overview counts both.
	if code, body := get("/console"); code != 200 || !strings.Contains(body, `id="count-pending"><a href="/console/apps?status=pending">2<`) {
		t.Fatalf("overview: %d %s", code, body)
	}
	if code, body := get("/console/apps?status=pending&q=sync+b"); code != 200 || !strings.Contains(body, byConsole) || strings.Contains(body, byCLI) {
		t.Fatalf("app search: %d", code)
	}

	// A form without its CSRF token is refused.
	if code, _, _ := post("/console/apps/"+byConsole+"/approve", url.Values{}); code != http.StatusForbidden && code != http.StatusBadRequest {
		t.Fatalf("approve without CSRF: %d", code)
	}
	if c := comparable(byConsole); c.Status != store.ClientPending {
		t.Fatalf("approved without CSRF: %s", c.Status)
	}

	// Reject needs a reason; the form says so.
	page := "/console/apps/" + byConsole
	if code, _, body := submit(page, page+"/reject", url.Values{"reason": {" "}}); code != http.StatusBadRequest || !strings.Contains(body, "reason") {
		t.Fatalf("reject without a reason: %d", code)
	}
	for _, step := range []struct {
		verb string
		cli  []string
		form url.Values
	}{
		{"reject", []string{"app", "reject", byCLI, "--reason", "no privacy policy"}, url.Values{"reason": {"no privacy policy"}}},
		{"approve", []string{"app", "approve", byCLI}, url.Values{}},
		{"disable", []string{"app", "disable", byCLI, "--reason", "abuse"}, url.Values{"reason": {"abuse"}}},
		{"enable", []string{"app", "enable", byCLI}, url.Values{}},
	} {
		if code, _, errs := runCLI(t, db, "", step.cli...); code != 0 {
			t.Fatalf("cli %s: %s", step.verb, errs)
		}
		if code, loc, body := submit(page, page+"/"+step.verb, step.form); code != http.StatusSeeOther || !strings.Contains(loc, "done="+step.verb) {
			t.Fatalf("console %s: %d %s %s", step.verb, code, loc, body)
		}
		same(step.verb, byCLI, byConsole)
	}
	if code, body := get(page + "?done=enable"); code != 200 || !strings.Contains(body, `id="app-status">active<`) || !strings.Contains(body, "client_credentials") {
		t.Fatalf("app page: %d %s", code, body)
	}

	// Approving parts: a new pending app, approved without its
	// client_credentials grant, keeps that grant awaiting review.
	parts := pending("Sync C")
	page = "/console/apps/" + parts
	if code, _, body := submit(page, page+"/approve", url.Values{"parts": {"selected"}}); code != http.StatusSeeOther {
		t.Fatalf("approve selected: %d %s", code, body)
	}
	if c := comparable(parts); c.Status != store.ClientActive || !slices.Equal(c.PendingGrants, []string{"client_credentials"}) {
		t.Fatalf("after approving no part: %s %v", c.Status, c.PendingGrants)
	}
	if code, _, body := submit(page, page+"/approve", url.Values{"parts": {"selected"}, "grant": {"client_credentials"}}); code != http.StatusSeeOther {
		t.Fatalf("approve the grant: %d %s", code, body)
	}
	if c := comparable(parts); len(c.PendingGrants) != 0 || !slices.Contains(c.GrantTypes, "client_credentials") {
		t.Fatalf("after approving the grant: %v %v", c.GrantTypes, c.PendingGrants)
	}
	if code, _ := get("/console/apps/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown app: %d", code)
	}

	// Not there for a non-administrator.
	jar2, _ := cookiejar.New(nil)
	client.Jar = jar2
	if code, loc, _ := submit("/login", "/login", url.Values{"email": {"dev@example.com"}, "password": {"vivid otter anchors the lamp"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in as the developer: %d %s", code, loc)
	}
	for _, p := range []string{"/console", "/console/apps", "/console/apps/" + parts} {
		if code, _ := get(p); code != http.StatusNotFound {
			t.Errorf("%s for a non-administrator: %d, want 404", p, code)
		}
	}
	if code, _, _ := submit("/account", "/console/apps/"+parts+"/disable", url.Values{}); code != http.StatusNotFound {
		t.Errorf("disable by a non-administrator: %d, want 404", code)
	}
	if c := comparable(parts); c.Status != store.ClientActive {
		t.Errorf("a non-administrator changed the app: %s", c.Status)
	}
}
