package app_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/contrast"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

const chromiumPath = "/usr/bin/chromium"

// layoutProbe runs in the page: whether it scrolls sideways, which form
// fields have no label, and the computed colours of every visible text
// field, select and textarea — its border, its own background, the
// background around it, and its focus outline (read while it has focus).
const layoutProbe = `(() => {
  const opaque = c => c && c !== "transparent" && !/^rgba\(.*,\s*0\)$/.test(c);
  const bgOf = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; if (opaque(c)) return c; } return "rgb(255, 255, 255)"; };
  const fields = [...document.querySelectorAll("input, select, textarea")].filter(e => e.type !== "hidden");
  const unlabeled = fields.filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
    .map(e => e.outerHTML.slice(0, 160));
  const styled = fields.filter(e => !["checkbox", "radio", "submit", "button", "image"].includes(e.type) && e.getClientRects().length);
  const colours = styled.map(e => {
    e.focus({preventScroll: true});
    const cs = getComputedStyle(e);
    return {field: e.id || e.name, border: cs.borderTopColor, own: cs.backgroundColor, outer: bgOf(e.parentElement),
            outline: cs.outlineColor, outlineStyle: cs.outlineStyle};
  });
  if (document.activeElement) document.activeElement.blur();
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, unlabeled, colours};
})()`

type layoutReport struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Unlabeled   []string `json:"unlabeled"`
	Colours     []struct {
		Field, Border, Own, Outer, Outline, OutlineStyle string
	} `json:"colours"`
}

// TestPagesLayoutAndContrast visits every page of the product in headless
// Chromium at a desktop (1280 px) and a phone (390 px) width and checks what
// a person would otherwise find by hand: no sideways scrolling, a label for
// every form field, and input borders and the focus ring at 3:1 contrast
// against what surrounds them (WCAG 2.2 1.4.11), from computed styles. A
// screenshot of each page and width goes to $GATEHOUSE_ARTIFACTS.
func TestPagesLayoutAndContrast(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("SKIPPED: %s is not installed (apt-get install chromium); the layout test did not run", chromiumPath)
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

	a, srv := openPages(t, nil)
	ctx0 := context.Background()
	const email, password = "ada@example.com", "correct horse battery staple 42"
	u, err := a.Identity.CreateUser(ctx0, identity.NewUser{Email: email, Name: "Ada", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	// An administrator, so the console pages are checked too.
	if err := a.Store.SetAdmin(ctx0, u.ID, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	client, _, err := a.OAuth.CreateClient(ctx0, oauth.NewClient{
		Name: "Demo App", OwnerID: u.ID, RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"profile:read"},
	})
	if err != nil {
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
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", step, loc, err)
		}
	}
	n := 0
	check := func(name string) {
		t.Helper()
		n++
		for _, w := range []struct{ width, height int64 }{{1280, 800}, {390, 844}} {
			do(name+": viewport", chromedp.EmulateViewport(w.width, w.height))
			rep, err := chromedp.Run(ctx, chromedp.Evaluate[layoutReport](layoutProbe))
			if err != nil {
				t.Fatalf("%s: probe: %v", name, err)
			}
			at := fmt.Sprintf("%s at %d px", name, w.width)
			if rep.ScrollWidth > rep.InnerWidth {
				t.Errorf("%s: scrolls sideways (content %d px wide in a %d px window)", at, rep.ScrollWidth, rep.InnerWidth)
			}
			for _, f := range rep.Unlabeled {
				t.Errorf("%s: field without a label: %s", at, f)
			}
			for _, c := range rep.Colours {
				assertContrast(t, at, c.Field+" border vs surroundings", c.Border, c.Outer)
				assertContrast(t, at, c.Field+" border vs its fill", c.Border, c.Own)
				if c.OutlineStyle == "none" {
					t.Errorf("%s: %s shows no focus ring", at, c.Field)
				} else {
					assertContrast(t, at, c.Field+" focus ring", c.Outline, c.Outer)
				}
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("%s: screenshot: %v", at, err)
			}
			if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s-%d.png", n, name, w.width)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		do(name+": back to desktop", chromedp.EmulateViewport(1280, 800))
	}
	open := func(name, path, waitFor string) {
		t.Helper()
		do("open "+name, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
		check(name)
	}

	// A headless tab is not a focused window until something is clicked;
	// emulate focus so :focus-visible applies as it does for a person.
	do("emulate a focused window", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))

	authorize := "/authorize/" + client.ID + "?" + url.Values{
		"response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"profile:read"},
		"state": {"s1"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbWQRS4sQ7Qk"}, "code_challenge_method": {"S256"},
	}.Encode()

	open("landing", "/", "main h1")
	open("not-found", "/no/such/page", "main h1")
	open("signup", "/signup", "#email")
	open("oauth-error", "/authorize/no-such-client?response_type=code", "main h1")
	open("signin-from-app", authorize, "#password")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	check("consent")
	open("account", "/account", "#twofactor-status")
	open("tokens", "/account/tokens", "#description")
	do("create a token",
		chromedp.SendKeys(chromedp.CSS("#description"), "backup script on my laptop"),
		chromedp.Click(chromedp.CSS(`input[name=scope]`)),
		chromedp.SendKeys(chromedp.CSS("#token_password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/account/tokens"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new_token")))
	check("tokens-new")
	open("apps", "/account/apps", "main h1")
	open("console-users", "/console/users", "#users")
	open("console-user", "/console/users/"+u.ID, "#subject-state")
	// The overview's charts draw what was counted so far (the sign-ins
	// above, the token's password check), so the phone width sees bars.
	if err := a.Activity.Flush(ctx0); err != nil {
		t.Fatal(err)
	}
	open("console", "/console", "#activity svg")
	open("console-apps", "/console/apps", "#apps")
	open("console-app", "/console/apps/"+client.ID, "#app-status")
	open("account-2", "/account", "#twofactor-status")
	do("start two-factor",
		chromedp.Click(chromedp.CSS(`form[action="/account/2fa/start"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#totp-secret")))
	check("2fa-setup")
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#totp-secret")))
	if err != nil {
		t.Fatal(err)
	}
	code, err := identity.TOTPCode(strings.ReplaceAll(secret, " ", ""), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do("confirm two-factor",
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	check("recovery-codes")
	do("sign out",
		chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	check("signin")
	do("sign in with two-factor",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`#code[autocomplete="one-time-code"]`)))
	check("2fa-prompt")
	do("wrong code",
		chromedp.SendKeys(chromedp.CSS("#code"), "000000"),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".alert.error")))
	check("2fa-error")
}

// assertContrast fails when fg (composited over bg if translucent) has less
// than 3:1 contrast with bg: WCAG 2.2 1.4.11 "Non-text Contrast".
func assertContrast(t *testing.T, at, what, fg, bg string) {
	t.Helper()
	b, ba, err := contrast.ParseCSS(bg)
	if err != nil {
		t.Errorf("%s: %s: background: %v", at, what, err)
		return
	}
	if ba < 1 {
		b = contrast.Over(b, ba, contrast.White)
	}
	f, fa, err := contrast.ParseCSS(fg)
	if err != nil {
		t.Errorf("%s: %s: %v", at, what, err)
		return
	}
	if r := contrast.Ratio(contrast.Over(f, fa, b), b); r < 3 {
		t.Errorf("%s: %s: %s on %s is %.2f:1, needs 3:1", at, what, fg, bg, r)
	}
}
