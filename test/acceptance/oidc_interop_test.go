package acceptance

import (
	"encoding/json"
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

// TestInteropOpenIDClient runs test/interop/openid-client/interop.mjs — the
// npm package openid-client v6, a certified OpenID Connect relying party —
// against the built binary: OpenID discovery, the code flow with PKCE and
// nonce (the authorization response obtained here through the real sign-in
// and consent forms) with ID token validation, UserInfo, refresh with
// offline_access; then follows the logout URL it builds.
func TestInteropOpenIDClient(t *testing.T) { interopOpenIDClient(t, "public") }

// TestInteropOpenIDClientPairwise is the same run for a client registered
// with pairwise subjects: openid-client validates the ID token and checks
// UserInfo's sub against it, and the sub is not the user's id.
func TestInteropOpenIDClientPairwise(t *testing.T) { interopOpenIDClient(t, "pairwise") }

func interopOpenIDClient(t *testing.T, subjectType string) {
	dir, _ := filepath.Abs("../interop/openid-client")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openid-client not installed: .ci/run must run `npm ci` in %s", dir)
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
	const email, password = "oidc@example.com", "openid passphrase 4 rp"
	cli("", "migrate", "up")
	var user struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(cli(password, "user", "create", "--email", email, "--password-stdin", "--output", "json"), &user); err != nil || user.ID == "" {
		t.Fatalf("user create: %v", err)
	}
	const redirect = "http://127.0.0.1:9/callback" // never fetched: we read the Location header
	const bye = "http://127.0.0.1:9/bye"
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(cli("", "client", "create", "--name", "RP", "--owner", email, "--redirect-uri", redirect,
		"--post-logout-redirect-uri", bye, "--subject-type", subjectType,
		"--scope", "openid", "--scope", "profile", "--scope", "email", "--scope", "offline_access", "--output", "json"), &c); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	p := start(t, work, []string{"GATEHOUSE_ADDR=" + addr}, "serve")
	waitReady(t, p, base, 10*time.Second)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
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
		resp, err := hc.PostForm(base+u, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	verifier := oauth2.GenerateVerifier()
	nonce := "nonce-" + oauth2.GenerateVerifier()[:20]
	conf := oauth2.Config{ClientID: c.ID, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize"}}
	authURL := conf.AuthCodeURL("oidc-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	resp, _ := get(authURL)
	_, page := get(resp.Header.Get("Location"))
	form := formFields(page)
	form.Set("email", email)
	form.Set("password", password)
	resp = post("/login", form)
	next := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(next, "authorize") {
		t.Fatalf("sign-in: %d → %q", resp.StatusCode, next)
	}
	_, page = get(next)
	form = formFields(page)
	form.Set("decision", "allow")
	resp = post("/oauth2/consent", form)
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, redirect+"?") {
		t.Fatalf("consent: %d → %q", resp.StatusCode, callback)
	}

	node := exec.Command("node", "interop.mjs")
	node.Dir = dir
	node.Env = append(os.Environ(), "ISSUER="+base, "CLIENT_ID="+c.ID, "CLIENT_SECRET="+c.Secret,
		"CALLBACK_URL="+callback, "STATE=oidc-state", "NONCE="+nonce, "CODE_VERIFIER="+verifier,
		"EMAIL="+email, "POST_LOGOUT_URI="+bye)
	if subjectType == "pairwise" {
		node.Env = append(node.Env, "SUB_IS_NOT="+user.ID)
	} else {
		node.Env = append(node.Env, "SUB_IS="+user.ID)
	}
	out, err := node.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("openid-client interop failed: %v\nserver log:\n%s", err, p.log())
	}

	// The logout URL openid-client built ends the session and returns to
	// the registered URI with state.
	m := regexp.MustCompile(`LOGOUT_URL=(\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatal("no logout URL printed")
	}
	resp, _ = get(m[1])
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != bye+"?state=bye" {
		t.Fatalf("logout: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = get("/account"); resp.StatusCode == http.StatusOK {
		t.Error("still signed in after logout")
	}
}
