package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// openPages starts a whole Gatehouse (SQLite) with extra settings.
func openPages(t *testing.T, extra map[string]string) (*app.App, *httptest.Server) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{
		"GATEHOUSE_DATABASE":          filepath.Join(t.TempDir(), "gatehouse.db"),
		"GATEHOUSE_MASTER_KEY":        base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_ISSUER":            "http://127.0.0.1",
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_TIME":       "1",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(nil, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler("test"))
	t.Cleanup(srv.Close)
	return a, srv
}

func fetch(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The branding settings reach the authenticator apps (TOTP issuer), the
// pages, the Content-Security-Policy and the sign-up switch.
func TestBrandingSettingsWired(t *testing.T) {
	a, srv := openPages(t, map[string]string{
		"GATEHOUSE_SITE_NAME":       "Example Corp",
		"GATEHOUSE_LOGO_URL":        "https://cdn.example.com/logo.svg",
		"GATEHOUSE_ACCENT_COLOR":    "#0b5d1e",
		"GATEHOUSE_SUPPORT_CONTACT": "https://help.example.com/",
		"GATEHOUSE_SIGNUP":          "closed",
	})
	if got := a.Identity.Config().TOTPIssuer; got != "Example Corp" {
		t.Fatalf("TOTP issuer = %q, want the site name", got)
	}
	resp, body := fetch(t, srv.URL+"/login", "")
	for _, want := range []string{"· Example Corp</title>", `src="https://cdn.example.com/logo.svg"`, `href="https://help.example.com/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	if strings.Contains(body, `href="/signup"`) {
		t.Error("sign-in page links to sign-up although sign-up is closed")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.example.com;") {
		t.Errorf("CSP does not allow the logo's origin: %s", csp)
	}
	if resp, _ := fetch(t, srv.URL+"/signup", ""); resp.StatusCode == http.StatusOK {
		t.Error("sign-up page served although sign-up is closed")
	}
	if _, css := fetch(t, srv.URL+"/static/theme.css", ""); !strings.Contains(css, "--accent: #0b5d1e;") {
		t.Errorf("theme.css lacks the accent:\n%s", css)
	}
}

// A browser at "/" or at an unknown path gets an HTML page; API clients
// (curl's */*, no Accept, application/json) keep the JSON 404.
func TestBrowsersGetHTMLLandingAnd404(t *testing.T) {
	_, srv := openPages(t, nil)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	resp, body := fetch(t, srv.URL+"/", browser)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `href="/login"`) || !strings.Contains(body, `href="/signup"`) {
		t.Fatalf("landing: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = fetch(t, srv.URL+"/no/such/page", browser)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "<h1>Page not found</h1>") {
		t.Fatalf("HTML 404: %d\n%s", resp.StatusCode, body)
	}
	for _, accept := range []string{"", "*/*", "application/json"} {
		for _, path := range []string{"/", "/no/such/page"} {
			resp, body := fetch(t, srv.URL+path, accept)
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error":"not_found"`) {
				t.Errorf("GET %s with Accept %q: %d %s", path, accept, resp.StatusCode, body)
			}
		}
	}
}

// An authorization request that needs sign-in redirects to a sign-in page
// naming the app; sign-up (intention=signup) names it too. A request the
// server would not honour (unknown client, foreign redirect URI) names
// nobody, and neither does a sign-in page reached without an app.
func TestSignInNamesTheApp(t *testing.T) {
	a, srv := openPages(t, nil)
	owner, err := a.Identity.CreateUser(context.Background(), identity.NewUser{Email: "dev@example.com", Password: "vivid otter anchors the lamp"})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := a.OAuth.CreateClient(context.Background(), oauth.NewClient{
		Name: "Photo Printer", OwnerID: owner.ID, Public: true, RedirectURIs: []string{"https://printer.example/cb"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"profile:read"}, ByAdmin: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	authz := "/oauth2/authorize?response_type=code&client_id=" + url.QueryEscape(c.ID) +
		"&redirect_uri=" + url.QueryEscape("https://printer.example/cb") +
		"&scope=profile%3Aread&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	const browser = "text/html"
	for _, tc := range []struct{ start, page, want string }{
		{authz, "/login", "Sign in to continue to <strong>Photo Printer</strong>."},
		{authz + "&intention=signup", "/signup", "Create an account to continue to <strong>Photo Printer</strong>."},
	} {
		resp, _ := fetch(t, srv.URL+tc.start, browser)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, tc.page+"?return_to=") {
			t.Fatalf("GET %s: %d, Location %q", tc.start, resp.StatusCode, loc)
		}
		if _, body := fetch(t, srv.URL+loc, browser); !strings.Contains(body, tc.want) {
			t.Errorf("%s lacks %q:\n%s", loc, tc.want, body)
		}
	}
	// The short form /authorize/<client_id> names the app as well.
	short := "/authorize/" + url.PathEscape(c.ID) + "?scope=profile%3Aread&state=s"
	if _, body := fetch(t, srv.URL+"/login?return_to="+url.QueryEscape(short), browser); !strings.Contains(body, "Photo Printer") {
		t.Errorf("sign-in from /authorize/<id> does not name the app:\n%s", body)
	}
	for _, rt := range []string{
		"/account",
		"/oauth2/authorize?client_id=nosuchclient&scope=profile%3Aread",
		"/oauth2/authorize?client_id=" + url.QueryEscape(c.ID) + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"),
	} {
		if _, body := fetch(t, srv.URL+"/login?return_to="+url.QueryEscape(rt), browser); strings.Contains(body, "continue to") {
			t.Errorf("return_to %s: the sign-in page names an app:\n%s", rt, body)
		}
	}
}
