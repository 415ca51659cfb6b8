package portal_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

const chromiumPath = "/usr/bin/chromium"

// TestDeveloperJourney walks the third-party developer's path in headless
// Chromium: sign up, register an app in the portal (pending), an
// administrator approves it in the console, another person allows it on the consent page
// (the app's logo and links shown), the app exchanges the code, and the
// developer rotates the secret — both secrets work until the old one is
// retired. Every page is photographed at 1280 and 390 px wide into
// $GATEHOUSE_ARTIFACTS, and at 390 px no page may scroll sideways.
func TestDeveloperJourney(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("SKIPPED: %s is not installed (apt-get install chromium); the journey did not run", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	shots := t.TempDir()
	if base := os.Getenv("GATEHOUSE_ARTIFACTS"); base != "" {
		shots = filepath.Join(base, t.Name())
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots: %s", shots)
	// Webhooks go to a receiver on loopback (step 6).
	e := open(t, map[string]string{"GATEHOUSE_WEBHOOK_DEV_LOOPBACK": "true"})

	// The developer's app: its callback receives the authorization code.
	var mu sync.Mutex
	var gotCode, gotState string
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r) // the browser's /favicon.ico
			return
		}
		mu.Lock()
		gotCode, gotState = r.URL.Query().Get("code"), r.URL.Query().Get("state")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><meta name="viewport" content="width=device-width"><h1 id="app-callback">Signed in to Photo Printer</h1>`)
	}))
	defer appSrv.Close()
	callback := appSrv.URL + "/cb"

	logoPath := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logoPath, pngLogo(t), 0o644); err != nil {
		t.Fatal(err)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 8*time.Minute)
	defer cancel()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", step, loc, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	value := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	n := 0
	shot := func(name string) {
		t.Helper()
		n++
		t.Logf("%s: %s", time.Now().Format("15:04:05"), name)
		for _, w := range []struct{ width, height int64 }{{1280, 800}, {390, 844}} {
			do(name+": viewport", chromedp.EmulateViewport(w.width, w.height))
			type widths struct {
				ScrollWidth int `json:"scrollWidth"`
				InnerWidth  int `json:"innerWidth"`
			}
			rep, err := chromedp.Run(ctx, chromedp.Evaluate[widths](`({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})`))
			if err != nil {
				t.Fatalf("%s: probe: %v", name, err)
			}
			if rep.ScrollWidth > rep.InnerWidth {
				t.Errorf("%s at %d px: scrolls sideways (content %d px wide in a %d px window)", name, w.width, rep.ScrollWidth, rep.InnerWidth)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("%s: screenshot: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s-%d.png", n, name, w.width)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		do(name+": back to desktop", chromedp.EmulateViewport(1280, 800))
	}
	// Destructive forms ask with window.confirm; the person says yes.
	acceptConfirms := chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`)
	do("emulate a focused window", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	signUp := func(email, returnTo string) {
		t.Helper()
		path := "/signup"
		if returnTo != "" {
			path += "?return_to=" + url.QueryEscape(returnTo)
		}
		do("open sign-up for "+email, chromedp.Navigate(e.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("#email")))
		do("sign up "+email,
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), password),
			chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type=submit]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`form[action="/signup"]`)))
	}
	signOut := func() {
		t.Helper()
		do("sign out", chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#password")))
	}

	// 1. The developer signs up and registers an app.
	signUp("dev@example.com", "/portal")
	// Only accounts with a verified address register production apps; the
	// developer follows the emailed link (the link itself is tested in
	// internal/app's email tests), here recorded directly.
	dev, err := e.a.Store.UserByEmail(context.Background(), "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	verifiedAt := time.Now()
	if err := e.a.Store.SetEmailVerified(context.Background(), dev.ID, &verifiedAt); err != nil {
		t.Fatal(err)
	}
	do("portal", chromedp.Navigate(e.srv.URL+"/portal"), chromedp.WaitVisible(chromedp.CSS("#portal-empty")))
	shot("portal-empty")
	do("open the form", chromedp.Click(chromedp.CSS("#portal-register")), chromedp.WaitVisible(chromedp.CSS("#portal-new")))
	shot("portal-new")
	do("fill in the app",
		chromedp.SendKeys(chromedp.CSS("#name"), "Photo Printer"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Prints your photos."),
		chromedp.SendKeys(chromedp.CSS("#homepage_url"), "https://printer.example/"),
		chromedp.SendKeys(chromedp.CSS("#privacy_url"), "https://printer.example/privacy"),
		chromedp.SendKeys(chromedp.CSS("#terms_url"), "https://printer.example/terms"),
		chromedp.SetUploadFiles(chromedp.CSS("#logo"), []string{logoPath}),
		chromedp.Click(chromedp.CSS("#type-web")),
		chromedp.SendKeys(chromedp.CSS("#redirect_uris"), callback),
		chromedp.Click(chromedp.CSS(`#scope-profile\:read`)),
		chromedp.Click(chromedp.CSS("#grant-authorization_code")),
		chromedp.Click(chromedp.CSS("#grant-refresh_token")),
		chromedp.Click(chromedp.CSS(`#portal-new button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new_secret")))
	shot("portal-app-created")
	if got := text("#app-status"); got != apps.StatusPending {
		t.Fatalf("status after registration: %q, want pending", got)
	}
	clientID, secret1 := text("#app-client-id"), value("#new_secret")
	appURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	do("app page", chromedp.Navigate(e.srv.URL+"/portal"), chromedp.WaitVisible(chromedp.CSS("#portal-apps")))
	shot("portal-list")
	do("open the app", chromedp.Click(chromedp.CSS("#portal-apps a")), chromedp.WaitVisible(chromedp.CSS("#app-status")))
	shot("portal-app")
	appURL, _ = chromedp.Run(ctx, chromedp.Location())
	appPath := strings.TrimPrefix(appURL, e.srv.URL)

	// 2. An administrator approves it in the console.
	appID := strings.TrimPrefix(appPath, "/portal/apps/")
	signOut()
	if _, err := e.a.Identity.CreateUser(context.Background(), identity.NewUser{Email: "admin@example.com", Password: password, Admin: true}); err != nil {
		t.Fatal(err)
	}
	do("administrator signs in",
		chromedp.Navigate(e.srv.URL+"/login?return_to="+url.QueryEscape("/console")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#email"), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/apps/`+appID+`"], a[href^="/console/apps"]`)))
	shot("console-overview")
	do("open the app in the console", chromedp.Navigate(e.srv.URL+"/console/apps/"+appID),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/apps/`+appID+`/approve"] button.primary`)))
	shot("console-app")
	do("approve", chromedp.Click(chromedp.CSS(`form[action="/console/apps/`+appID+`/approve"] button.primary`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/console/apps/`+appID+`/approve"]`)))
	shot("console-app-approved")
	if got, err := e.a.Apps.Get(context.Background(), apps.SystemActor(), appID); err != nil || got.Status != apps.StatusActive {
		t.Fatalf("status after approval in the console: %+v, %v", got.Status, err)
	}
	signOut()

	// 3. Someone else allows it on the consent page.
	verifier := "journey-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(verifier))
	authorize := oauth.PathAuthorize + "?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callback}, "scope": {"profile:read"},
		"state": {"s1"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	signUp("reader@example.com", authorize)
	do("consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	for _, sel := range []string{"#consent-logo", "#consent-homepage", "#consent-privacy", "#consent-terms", "#consent-reviewed", "#consent-not-you"} {
		do("consent shows "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	logoLoaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#consent-logo").complete && document.querySelector("#consent-logo").naturalWidth > 0`))
	if err != nil || !logoLoaded {
		t.Errorf("the consent page's logo did not load (%v)", err)
	}
	if href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#consent-privacy").href`)); href != "https://printer.example/privacy" {
		t.Errorf("privacy link: %q", href)
	}
	if body := text("main"); strings.Contains(body, "dev@example.com") || !strings.Contains(body, "reader@example.com") || !strings.Contains(body, "not owned by") {
		t.Errorf("consent page: the developer's email shown, or the reader's account / ownership line missing:\n%s", body)
	}
	shot("consent")
	// "Not you?" signs out and comes back to the same request, which asks
	// the next person to sign in.
	do("not you", chromedp.Click(chromedp.CSS("#consent-not-you")), chromedp.WaitVisible(chromedp.CSS("#password")))
	shot("consent-not-you-signin")
	do("the reader signs in again",
		chromedp.SendKeys(chromedp.CSS("#email"), "reader@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	do("allow", chromedp.Click(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitVisible(chromedp.CSS("#app-callback")))
	mu.Lock()
	code, state := gotCode, gotState
	mu.Unlock()
	if code == "" || state != "s1" {
		t.Fatalf("callback: code %q state %q", code, state)
	}

	// 4. The app exchanges the code with its secret.
	tok := tokenRequest(t, e, clientID, secret1, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier},
	}, http.StatusOK)
	refresh := tok["refresh_token"]
	if tok["access_token"] == "" || refresh == "" {
		t.Fatalf("token response: %v", tok)
	}

	// 5. The developer rotates the secret: both work until the old one is
	// retired.
	do("sign the reader out", chromedp.Navigate(e.srv.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`header form[action="/logout"] button`)))
	signOut()
	do("developer signs in",
		chromedp.Navigate(e.srv.URL+"/login?return_to="+url.QueryEscape(appPath)),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#email"), "dev@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#rotate-secret")))
	do("rotate", chromedp.Click(chromedp.CSS("#rotate-secret")), chromedp.WaitVisible(chromedp.CSS("#new_secret")))
	shot("portal-rotated")
	secret2 := value("#new_secret")
	if secret2 == "" || secret2 == secret1 {
		t.Fatalf("rotation showed %q", secret2)
	}
	refresh = tokenRequest(t, e, clientID, secret1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, http.StatusOK)["refresh_token"]
	refresh = tokenRequest(t, e, clientID, secret2, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, http.StatusOK)["refresh_token"]

	// Secrets are listed newest first: retire the second (the old one).
	do("retire the old secret", acceptConfirms,
		chromedp.Click(chromedp.CSS(`#secrets li:nth-child(2) form button`)),
		// The rotation page had a notice too: wait for the page after.
		chromedp.WaitNotPresent(chromedp.CSS("#new_secret")),
		chromedp.WaitVisible(chromedp.CSS(".alert.notice")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#secrets li").length`)); n != 1 {
		t.Errorf("secrets listed after retiring one: %d, want 1", n)
	}
	shot("portal-retired")
	tokenRequest(t, e, clientID, secret1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, http.StatusUnauthorized)
	tokenRequest(t, e, clientID, secret2, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, http.StatusOK)

	// 6. The developer adds a webhook endpoint, sends it a test event and
	// reads the delivery log.
	rcv := newHookReceiver(t)
	do("webhooks page", chromedp.Click(chromedp.CSS("#webhooks-link")), chromedp.WaitVisible(chromedp.CSS("#endpoints-empty")))
	do("add an endpoint",
		chromedp.SendKeys(chromedp.CSS("#url"), rcv.srv.URL+"/hooks"),
		chromedp.Click(chromedp.CSS(`#event-app\.approved`)),
		chromedp.Click(chromedp.CSS(`#event-webhook\.test`)),
		chromedp.SendKeys(chromedp.CSS("#description"), "Photo Printer events"),
		chromedp.Click(chromedp.CSS(`#add-endpoint button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new_secret")))
	shot("portal-webhook-created")
	rcv.mu.Lock()
	rcv.secret = value("#new_secret")
	rcv.mu.Unlock()
	do("send a test event", chromedp.Click(chromedp.CSS(`#endpoints form[action$="/test"] button`)), chromedp.WaitVisible(chromedp.CSS("#deliveries")))
	e.deliver()
	do("reload the log", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#deliveries .attempt")))
	shot("portal-webhook-log")
	if got := text("#deliveries .attempt-outcome"); got != "ok" {
		t.Errorf("test event outcome: %q, want ok", got)
	}
	if ids, errs := rcv.got(); len(ids) != 1 || errs[0] != nil {
		t.Errorf("receiver: %v %v, want one verified delivery", ids, errs)
	}
}

// tokenRequest calls the token endpoint with HTTP Basic client
// authentication and returns the JSON fields, failing unless the status is
// want.
func tokenRequest(t *testing.T, e *env, clientID, secret string, form url.Values, want int) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != want {
		t.Fatalf("token endpoint (%s): %d %v, want %d", form.Get("grant_type"), resp.StatusCode, body, want)
	}
	out := map[string]string{}
	for k, v := range body {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
