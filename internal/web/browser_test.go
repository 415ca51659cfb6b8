package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where screenshots go: $GATEHOUSE_ARTIFACTS/<test> when set
// (CI keeps that folder), otherwise a t.TempDir that is removed when the test
// ends, so local runs do not pile images up in the temp directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_ARTIFACTS")
	if base == "" {
		t.Log("screenshots are discarded: set GATEHOUSE_ARTIFACTS to a folder to keep them")
		return t.TempDir()
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// TestBrowserSignUpTwoFactorSignIn walks the pages in headless Chromium, as a
// person would: sign up, sign in, enrol TOTP with the key shown on the page,
// sign out, sign in again with a code. It saves a screenshot of each page.
func TestBrowserSignUpTwoFactorSignIn(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("SKIPPED: %s is not installed (apt-get install chromium); the browser test did not run", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newTestServer(t, web.Config{})
	dir := artifactsDir(t)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), // never download a browser
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps its singleton socket in $TMPDIR and leaves it behind
		// when killed: point it at a directory the test removes.
		chromedp.Env("TMPDIR="+browserTempDir(t)),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", step, loc, err)
		}
	}
	path := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(loc, s.URL)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	code := func(secret string) string {
		c, err := identity.TOTPCode(secret, s.env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	do("viewport", chromedp.EmulateViewport(1024, 768))
	// Times are sent in UTC; the page shows them in the browser's zone.
	do("time zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
		return err
	}))

	// 1. Sign up, as the authorize endpoint's intention=signup would send us.
	// The email typed on the sign-in page comes along to sign-up.
	do("open sign-in",
		chromedp.Navigate(s.URL+"/login?return_to=%2Faccount"),
		chromedp.WaitVisible(chromedp.CSS("#email")))
	do("type the email, go to sign-up",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.Click(chromedp.CSS("a[data-carry-email]")),
		chromedp.WaitVisible(chromedp.CSS("#name")))
	carried, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#email")))
	if err != nil {
		t.Fatal(err)
	}
	if carried != email {
		t.Fatalf("sign-up email field %q, want the email typed on sign-in", carried)
	}
	if p := path(); !strings.HasPrefix(p, "/signup?") || !strings.Contains(p, "return_to=%2Faccount") {
		t.Fatalf("sign-up link led to %s", p)
	}
	shot("01-signup")
	do("fill sign-up",
		chromedp.SendKeys(chromedp.CSS("#name"), "Alice Liddell"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), password))
	shot("02-signup-filled")
	// 2. Sign-up signs in; return_to brings us to the account page.
	do("submit sign-up",
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#twofactor-status")))
	if p := path(); p != "/account" {
		t.Fatalf("after sign-up at %s", p)
	}
	if got := text("#twofactor-status"); got != "Off" {
		t.Fatalf("two-factor status %q", got)
	}
	shot("04-account")
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[3]string](
		`(function(){var el=document.querySelector("time[data-local=datetime]");return [el.getAttribute("datetime"),el.textContent,el.title];})()`))
	if err != nil {
		t.Fatal(err)
	}
	if utc, _ := time.Parse(time.RFC3339, shown[0]); !strings.HasSuffix(shown[2], " UTC") || strings.Contains(shown[1], "UTC") ||
		!strings.Contains(shown[1], "GMT+9") || !strings.Contains(shown[1], utc.In(time.FixedZone("JST", 9*3600)).Format("15:04")) {
		t.Fatalf("session time (datetime, text, title) = %q: want Tokyo time, with the UTC text as title", shown)
	}

	// 3. Enrol TOTP: read the key shown, compute the code like an app would.
	do("start enrolment",
		chromedp.Click(chromedp.CSS(`form[action="/account/2fa/start"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#totp-secret")),
		chromedp.WaitVisible(chromedp.CSS("img.qr")))
	shot("05-totp-setup")
	secret := strings.ReplaceAll(text("#totp-secret"), " ", "")
	if len(secret) != 32 {
		t.Fatalf("key shown %q", secret)
	}
	do("confirm enrolment",
		chromedp.SendKeys(chromedp.CSS("#code"), code(secret)),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	if n := strings.Count(text("#recovery-codes"), "-"); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	shot("06-recovery-codes")
	do("back to account",
		chromedp.Click(chromedp.CSS(`form[action="/account/recovery-codes/done"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#twofactor-status")))
	if got := text("#twofactor-status"); got != "On" {
		t.Fatalf("two-factor status %q", got)
	}
	shot("07-account-2fa-on")
	do("narrow viewport", chromedp.EmulateViewport(390, 844))
	shot("08-account-mobile")
	do("wide viewport", chromedp.EmulateViewport(1024, 768))

	// 4. Sign out and in again: now the code is asked for.
	do("sign out",
		chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	shot("09-signed-out")
	s.env.Clock.Advance(30 * time.Second) // a fresh time step
	do("sign in again",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`#code[autocomplete="one-time-code"]`)))
	if p := path(); p != "/login/2fa" {
		t.Fatalf("second step at %s", p)
	}
	shot("10-two-factor-prompt")
	do("wrong code",
		chromedp.SendKeys(chromedp.CSS("#code"), "000000"),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".alert.error")))
	shot("11-two-factor-wrong-code")
	do("right code",
		chromedp.SendKeys(chromedp.CSS("#code"), code(secret)),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#twofactor-status")))
	if p := path(); p != "/account" {
		t.Fatalf("after the code at %s", p)
	}
	shot("12-signed-in-with-2fa")
}

// browserTempDir is a directory for Chromium's $TMPDIR, removed when the test
// ends. Chromium puts a Unix socket in it, whose path may not exceed 107
// bytes, so it is a short name in the temp directory rather than a t.TempDir
// (which embeds the test name).
func browserTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
