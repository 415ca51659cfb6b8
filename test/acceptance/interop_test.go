package acceptance

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFields returns the hidden inputs of an HTML page (CSRF token,
// return_to, the consent form's request fields).
func formFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// TestInteropOAuth4WebAPI runs test/interop/oauth4webapi/interop.mjs — the
// npm package oauth4webapi, an independent and strict OAuth 2.0 client —
// against the built binary: discovery, client_credentials, bearer use,
// introspection, revocation, an authorization response (obtained here through
// the real sign-in and consent forms) with RFC 9207 iss validation, code
// exchange with PKCE, refresh rotation and reuse detection.
func TestInteropOAuth4WebAPI(t *testing.T) {
	dir, _ := filepath.Abs("../interop/oauth4webapi")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("oauth4webapi not installed: .ci/run must run `npm ci` in %s", dir)
		}
		t.Skipf("run `npm ci` in %s to enable this test", dir)
	}
	work := t.TempDir()
	cli := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = work
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	const email, password = "interop@example.com", "interop passphrase 4 web"
	cli("", "migrate", "up") // admin commands never create the database
	cli(password, "user", "create", "--email", email, "--password-stdin")
	const redirect = "http://127.0.0.1:9/callback" // never fetched: we read the Location header
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(cli("", "client", "create", "--name", "Interop", "--owner", email, "--redirect-uri", redirect,
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--grant-type", "client_credentials",
		"--scope", "profile:read", "--output", "json"), &c); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	p := start(t, work, []string{"GATEHOUSE_ADDR=" + addr}, "serve")
	waitReady(t, p, base, 10*time.Second)

	// A browser, minus the browser: cookie jar, no automatic redirects.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	post := func(u string, form url.Values) *http.Response {
		t.Helper()
		resp, err := hc.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	verifier := oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: c.ID, RedirectURL: redirect, Scopes: []string{"profile:read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize"}}
	authURL := conf.AuthCodeURL("interop-state", oauth2.S256ChallengeOption(verifier))

	resp, _ := get(authURL)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize without a session: %d", resp.StatusCode)
	}
	loginURL := resp.Header.Get("Location")
	if !strings.HasPrefix(loginURL, "http") {
		loginURL = base + loginURL
	}
	_, page := get(loginURL)
	form := formFields(page)
	form.Set("email", email)
	form.Set("password", password)
	resp = post(base+"/login", form)
	next := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(next, "authorize") {
		t.Fatalf("sign-in: %d → %q", resp.StatusCode, next)
	}
	_, page = get(base + next)
	form = formFields(page)
	form.Set("decision", "allow")
	resp = post(base+"/oauth2/consent", form)
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, redirect+"?") {
		t.Fatalf("consent: %d → %q", resp.StatusCode, callback)
	}

	node := exec.Command("node", "interop.mjs")
	node.Dir = dir
	node.Env = append(os.Environ(), "ISSUER="+base, "CLIENT_ID="+c.ID, "CLIENT_SECRET="+c.Secret,
		"CALLBACK_URL="+callback, "STATE=interop-state", "REDIRECT_URI="+redirect, "CODE_VERIFIER="+verifier)
	out, err := node.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("oauth4webapi interop failed: %v\nserver log:\n%s", err, p.log())
	}
}
