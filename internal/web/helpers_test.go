package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
	"github.com/gatehouse/gatehouse/internal/web"
)

type testServer struct {
	*httptest.Server
	env *identitytest.Env
	h   *web.Handler
}

func newTestServer(t testing.TB, cfg web.Config, opts ...identitytest.Option) *testServer {
	t.Helper()
	env := identitytest.New(t, opts...)
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	t.Cleanup(srv.Close)
	if cfg.Issuer == "" {
		cfg.Issuer = srv.URL
	}
	h, err := web.New(cfg, env.Service, env.Hasher, env.Clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Routes(mux)
	return &testServer{Server: srv, env: env, h: h}
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see each 303.
type browser struct {
	t      testing.TB
	srv    *testServer
	client *http.Client
}

func (s *testServer) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: s, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t testing.TB, p page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in page (status %d):\n%s", p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// submit GETs the page with the form, then posts the form with its CSRF
// token added.
func (b *browser) submit(formPage, action string, form url.Values) page {
	b.t.Helper()
	p := b.get(formPage)
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", csrfOf(b.t, p))
	return b.post(action, form)
}

func expect(t testing.TB, p page, status int, location string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; Location %q; body:\n%s", p.status, status, p.location(), p.body)
	}
	if location != "" && p.location() != location {
		t.Fatalf("Location %q, want %q", p.location(), location)
	}
}

func contains(t testing.TB, p page, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(p.body, f) {
			t.Fatalf("page lacks %q:\n%s", f, p.body)
		}
	}
}
