package acceptance

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

const chromium = "/usr/bin/chromium"

// TestBrowserAuthorizeConsentRedirect is the third-party app's journey as
// a person sees it, against the built binary: the app sends the browser to
// /authorize/{client_id} (seed 004's form) with PKCE; the person signs in,
// reads the consent page and allows; the browser lands on the app's loopback
// redirect URI with code, state and iss; the app redeems the code with
// golang.org/x/oauth2 and calls /v0/me. Screenshots go to the artifacts dir.
func TestBrowserAuthorizeConsentRedirect(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium", chromium)
		}
		t.Skipf("%s not installed", chromium)
	}
	shots := artifactsDir(t)

	// The app's callback: records what the authorization server sent back.
	got := make(chan map[string]string, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := map[string]string{}
		for k := range r.URL.Query() {
			q[k] = r.URL.Query().Get(k)
		}
		select {
		case got <- q:
		default:
		}
		w.Write([]byte(`<!doctype html><title>Demo app</title><h1 id="back-at-app">Back at the app</h1>`))
	}))
	defer app.Close()
	redirect := app.URL + "/callback"

	dir := t.TempDir()
	cli := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	const email, password = "grace@example.com", "a long and memorable passphrase"
	cli("", "migrate", "up") // admin commands never create the database
	cli(password, "user", "create", "--email", email, "--name", "Grace Hopper", "--password-stdin")
	cli("another long passphrase", "user", "create", "--email", "dev@example.com", "--name", "Demo Developer", "--password-stdin")
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	out := cli("", "client", "create", "--name", "Demo App", "--owner", "dev@example.com",
		"--redirect-uri", redirect, "--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--scope", "profile:read", "--scope", "tokens:read", "--output", "json")
	if err := json.Unmarshal(out, &client); err != nil {
		t.Fatalf("client create: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	base := "http://" + addr
	p := start(t, dir, []string{"GATEHOUSE_ADDR=" + addr}, "serve")
	waitReady(t, p, base, 10*time.Second)

	conf := &oauth2.Config{
		ClientID: client.ID, ClientSecret: client.Secret, RedirectURL: redirect,
		Scopes:   []string{"profile:read", "tokens:read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/authorize/" + client.ID, TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier))

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps its singleton socket in $TMPDIR and leaves it behind
		// when killed: point it at a directory the test removes.
		chromedp.Env("TMPDIR="+browserTempDir(t)))
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v\nserver log:\n%s", step, loc, err, p.log())
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	do("viewport", chromedp.EmulateViewport(1024, 768))
	do("open the authorization URL: sign-in first",
		chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#password")))
	shot("01-sign-in-for-app")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	shot("02-consent")
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	// The page says who is asking and who is not vouching for it, and
	// never shows the developer's personal email.
	for _, want := range []string{"Demo App", "Reviewed by Gatehouse", "is not owned by Gatehouse", "Not you?",
		"See your name, email address and account details", "See the list of your personal access tokens"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "dev@example.com") {
		t.Errorf("consent page shows the developer's email:\n%s", page)
	}
	// Wait for the app's own page: the consent page has an <h1> too.
	do("allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitVisible(chromedp.CSS("#back-at-app")))
	shot("03-back-at-the-app")

	var q map[string]string
	select {
	case q = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the browser never reached the app's redirect URI")
	}
	if q["state"] != "state-123" || q["iss"] != base || q["code"] == "" || q["error"] != "" {
		t.Fatalf("authorization response = %v (want code, state-123, iss=%s)", q, base)
	}
	tok, err := conf.Exchange(context.Background(), q["code"], oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange with golang.org/x/oauth2: %v", err)
	}
	resp, err := conf.Client(context.Background(), tok).Get(base + "/v0/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ Email string }
	json.NewDecoder(resp.Body).Decode(&me)
	if resp.StatusCode != http.StatusOK || me.Email != email {
		t.Fatalf("/v0/me with the app's token: %d %+v", resp.StatusCode, me)
	}
}
