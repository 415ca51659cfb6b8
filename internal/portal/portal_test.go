package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
)

const password = "correct horse battery staple 42"

type env struct {
	t   *testing.T
	a   *app.App
	srv *httptest.Server
}

// open starts a whole Gatehouse over SQLite with extra settings.
func open(t *testing.T, extra map[string]string) *env {
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
	return &env{t: t, a: a, srv: srv}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e      *env
	client *http.Client
	csrf   string
}

type page struct {
	status int
	header http.Header
	body   string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form; the CSRF token of the last page is added unless the
// form has its own csrf_token entry.
func (b *browser) post(path string, form url.Values) page {
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart sends a multipart form with an optional logo file.
func (b *browser) postMultipart(path string, form url.Values, logo []byte) page {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if logo != nil {
		fw, _ := mw.CreateFormFile("logo", "logo.png")
		fw.Write(logo)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// signIn creates a user and signs the browser in as them.
func (e *env) signIn(email string) *browser {
	e.t.Helper()
	u, err := e.a.Identity.CreateUser(context.Background(), identity.NewUser{Email: email, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	// A verified address: production apps need one.
	at := time.Now()
	if err := e.a.Store.SetEmailVerified(context.Background(), u.ID, &at); err != nil {
		e.t.Fatal(err)
	}
	return e.signInAs(email)
}

// signInAs signs an existing account in.
func (e *env) signInAs(email string) *browser {
	e.t.Helper()
	b := e.browser()
	b.get("/login")
	p := b.post("/login", url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d %.300s", p.status, p.body)
	}
	b.get("/portal")
	return b
}

func pngLogo(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for x := 0; x < 40; x++ {
		for y := 0; y < 40; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 6), 80, uint8(y * 6), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	appIDRE     = regexp.MustCompile(`action="/portal/apps/([^/"]+)/edit"`)
	secretRE    = regexp.MustCompile(`id="new_secret"[^>]*value="([^"]+)"`)
	clientIDRE  = regexp.MustCompile(`id="app-client-id">([^<]+)<`)
	statusRE    = regexp.MustCompile(`id="app-status" data-status="([a-z]+)"`)
	webAppInput = func() url.Values {
		return url.Values{
			"name": {"Photo Printer"}, "description": {"Prints your photos."},
			"homepage_url": {"https://printer.example/"}, "privacy_url": {"https://printer.example/privacy"},
			"terms_url": {"https://printer.example/terms"}, "type": {"web"},
			"redirect_uris": {"https://printer.example/cb"}, "scope": {"profile:read"},
			"grant_type": {"authorization_code", "refresh_token"},
		}
	}
)

// register registers a web app through the portal and returns its id and
// the page that answered.
func (b *browser) register(logo []byte) (string, page) {
	b.e.t.Helper()
	p := b.postMultipart("/portal/apps/new", webAppInput(), logo)
	if p.status != http.StatusCreated {
		b.e.t.Fatalf("register: %d %.500s", p.status, p.body)
	}
	m := appIDRE.FindStringSubmatch(p.body)
	if m == nil {
		b.e.t.Fatalf("register: no app id on the page: %.500s", p.body)
	}
	return m[1], p
}

func TestPortalNeedsSignIn(t *testing.T) {
	e := open(t, nil)
	b := e.browser()
	for _, path := range []string{"/portal", "/portal/apps/new", "/portal/apps/anything"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login?return_to=") {
			t.Errorf("GET %s signed out: %d %q, want 303 to /login", path, p.status, p.header.Get("Location"))
		}
	}
	b.get("/login") // a pre-session CSRF token: the form is valid, the user is not
	p := b.post("/portal/apps/new", webAppInput())
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
		t.Errorf("POST register signed out: %d %q, want 303 to /login", p.status, p.header.Get("Location"))
	}
}

func TestPortalEmptyState(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	p := b.get("/portal")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="portal-empty"`) || !strings.Contains(p.body, "What is an app?") {
		t.Fatalf("empty portal: %d %.500s", p.status, p.body)
	}
}

func TestPortalSecretShownOnce(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	id, p := b.register(nil)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret after registration: %.800s", p.body)
	}
	secret := m[1]
	if !strings.Contains(p.body, "you will not see this again") || !strings.Contains(p.body, `data-copy="new_secret"`) {
		t.Error("the secret is shown without the warning or the copy button")
	}
	if s := statusRE.FindStringSubmatch(p.body); s == nil || s[1] != "pending" {
		t.Errorf("status after registration: %v, want pending", s)
	}
	for _, path := range []string{"/portal/apps/" + id, "/portal"} {
		if again := b.get(path); strings.Contains(again.body, secret) || strings.Contains(again.body, `id="new_secret"`) {
			t.Errorf("%s shows the secret again", path)
		}
	}
	// Rotation shows the new one, once, and it is another secret.
	r := b.post("/portal/apps/"+id+"/secrets/rotate", url.Values{})
	m2 := secretRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m2 == nil {
		t.Fatalf("rotate: %d %.500s", r.status, r.body)
	}
	if m2[1] == secret {
		t.Error("rotation showed the old secret")
	}
	if again := b.get("/portal/apps/" + id); strings.Contains(again.body, m2[1]) {
		t.Error("the rotated secret is shown again")
	}
	if n := strings.Count(b.get("/portal/apps/"+id).body, "data-secret-id="); n != 2 {
		t.Errorf("secrets listed after rotation: %d, want 2", n)
	}
}

func TestPortalOtherUsersAppsAreNotFound(t *testing.T) {
	e := open(t, nil)
	alice := e.signIn("alice@example.com")
	id, _ := alice.register(nil)
	bob := e.signIn("bob@example.com")
	if p := bob.get("/portal/apps/" + id); p.status != http.StatusNotFound {
		t.Errorf("bob GET alice's app: %d, want 404", p.status)
	}
	if p := bob.get("/portal"); strings.Contains(p.body, "Photo Printer") {
		t.Error("bob's list shows alice's app")
	}
	for _, action := range []string{"edit", "secrets/rotate", "secrets/retire", "scopes", "delete"} {
		bob.get("/portal")
		p := bob.post("/portal/apps/"+id+"/"+action, url.Values{"name": {"Mine now"}, "confirm": {"yes"}})
		if p.status != http.StatusNotFound {
			t.Errorf("bob POST %s on alice's app: %d, want 404", action, p.status)
		}
	}
	p := alice.get("/portal/apps/" + id)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Photo Printer") || strings.Contains(p.body, "Mine now") {
		t.Errorf("alice's app changed by bob: %d", p.status)
	}
	if n := strings.Count(p.body, "data-secret-id="); n != 1 {
		t.Errorf("alice's app has %d secrets after bob's attempts, want 1", n)
	}
}

func TestPortalFormsNeedCSRF(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	id, _ := b.register(nil)
	cases := []struct {
		name, path string
		form       url.Values
	}{
		{"register", "/portal/apps/new", webAppInput()},
		{"edit", "/portal/apps/" + id + "/edit", url.Values{"name": {"Renamed"}}},
		{"rotate", "/portal/apps/" + id + "/secrets/rotate", url.Values{}},
		{"delete", "/portal/apps/" + id + "/delete", url.Values{"confirm": {"yes"}}},
	}
	for _, c := range cases {
		for _, token := range []string{"", "forged"} {
			c.form.Set("csrf_token", token)
			if p := b.post(c.path, c.form); p.status != http.StatusForbidden {
				t.Errorf("%s with csrf_token %q: %d, want 403", c.name, token, p.status)
			}
		}
	}
	// Nothing changed: one app, its name, one secret.
	p := b.get("/portal/apps/" + id)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Photo Printer") || strings.Count(p.body, "data-secret-id=") != 1 {
		t.Errorf("a form without CSRF changed the app: %d", p.status)
	}
	if n := strings.Count(b.get("/portal").body, `data-status=`); n != 1 {
		t.Errorf("apps listed: %d, want 1", n)
	}
}

func TestPortalLogoIsServedAsPNG(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	id, p := b.register(pngLogo(t))
	if !strings.Contains(p.body, "/apps/"+id+"/logo.png") {
		t.Fatalf("the app page does not show the logo: %.600s", p.body)
	}
	anon := e.browser()
	resp, err := anon.client.Get(e.srv.URL + "/apps/" + id + "/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("logo: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := png.Decode(bytes.NewReader(body)); err != nil {
		t.Errorf("the served logo is not a PNG: %v", err)
	}
	if p := anon.get("/apps/no-such-app/logo.png"); p.status != http.StatusNotFound {
		t.Errorf("logo of an unknown app: %d, want 404", p.status)
	}
	// Not an image: refused, nothing stored.
	b.get("/portal/apps/" + id)
	bad := b.postMultipart("/portal/apps/"+id+"/logo", url.Values{}, []byte("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"))
	if bad.status < 400 || bad.status >= 500 {
		t.Errorf("an SVG logo: %d, want 4xx", bad.status)
	}
}

func TestPortalEditAndDelete(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	id, _ := b.register(nil)
	b.get("/portal/apps/" + id)
	p := b.post("/portal/apps/"+id+"/edit", url.Values{"name": {"Photo Printer 2"}, "redirect_uris": {"https://printer.example/cb https://printer.example/cb2"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %.500s", p.status, p.body)
	}
	p = b.get("/portal/apps/" + id)
	if !strings.Contains(p.body, "Photo Printer 2") || !strings.Contains(p.body, "https://printer.example/cb2") {
		t.Error("the edit did not stick")
	}
	// Delete needs the confirmation box.
	if p := b.post("/portal/apps/"+id+"/delete", url.Values{}); p.status != http.StatusBadRequest {
		t.Errorf("delete without confirmation: %d, want 400", p.status)
	}
	b.get("/portal/apps/" + id)
	if p := b.post("/portal/apps/"+id+"/delete", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %.300s", p.status, p.body)
	}
	if p := b.get("/portal/apps/" + id); p.status != http.StatusNotFound {
		t.Errorf("deleted app: %d, want 404", p.status)
	}
}

func TestTestUsersOnlyInSandbox(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	if p := b.get("/portal/test-users"); p.status != http.StatusNotFound {
		t.Errorf("test users in production: %d, want 404", p.status)
	}
}

func TestSandboxPortal(t *testing.T) {
	e := open(t, map[string]string{"GATEHOUSE_ENVIRONMENT": "sandbox"})
	b := e.signIn("dev@example.com")
	p := b.get("/portal/test-users")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="sandbox-banner"`) {
		t.Fatalf("test users page in the sandbox: %d, banner %v", p.status, strings.Contains(p.body, `id="sandbox-banner"`))
	}
	p = b.post("/portal/test-users", url.Values{"email": {"tester1@example.com"}, "password": {password}})
	if p.status != http.StatusCreated || !strings.Contains(p.body, "tester1@example.com") {
		t.Fatalf("create a test user: %d %.400s", p.status, p.body)
	}
	if _, err := e.a.Identity.CheckPassword(context.Background(), "tester1@example.com", password, "127.0.0.1"); err != nil {
		t.Errorf("the test user cannot sign in: %v", err)
	}
	if p := b.post("/portal/test-users", url.Values{"email": {"tester1@example.com"}, "password": {password}}); p.status != http.StatusBadRequest {
		t.Errorf("the same test user twice: %d, want 400", p.status)
	}
	// Apps are approved on registration in the sandbox.
	_, p = b.register(nil)
	if s := statusRE.FindStringSubmatch(p.body); s == nil || s[1] != "active" {
		t.Errorf("sandbox app status: %v, want active", s)
	}
}

// An account whose address is not verified cannot register a production
// app, and is told why.
func TestPortalNeedsAVerifiedAddress(t *testing.T) {
	e := open(t, nil)
	if _, err := e.a.Identity.CreateUser(context.Background(), identity.NewUser{Email: "new@example.com", Password: password}); err != nil {
		t.Fatal(err)
	}
	b := e.signInAs("new@example.com")
	p := b.post("/portal/apps/new", url.Values{"name": {"Unverified"}, "type": {"web"}, "redirect_uris": {"https://app.example/cb"},
		"grant_types": {"authorization_code"}, "scopes": {"profile:read"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Verify your email address") {
		t.Fatalf("unverified registration: %d %.300s", p.status, p.body)
	}
}
