package apps_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

type env struct {
	*tt.Env
	svc    *apps.Service
	events []apps.Event
	mu     sync.Mutex
}

// newEnv assembles the real services on st, with a catalog holding an
// ordinary app scope ("cards:read") and a sensitive one ("cards:write").
func newEnv(t *testing.T, st *sqlstore.Store, environment string) *env {
	t.Helper()
	cat, err := scope.New([]config.ScopeSpec{
		{Name: "cards:read", Description: "See your cards"},
		{Name: "cards:write", Description: "Change your cards", Sensitive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{Env: tt.New(t, st, tt.Options{Scopes: scope.NewHolder(cat)})}
	e.svc, err = apps.New(apps.Config{
		Store: st, Hasher: e.Hasher, Now: e.Clock.Now, Random: rand.Reader, Scopes: e.Scopes,
		APIKeys: e.APIKeys, OAuth: e.OAuth, Environment: environment,
		OnChange: func(_ context.Context, tx store.Store, ev apps.Event) error {
			if tx == nil {
				t.Errorf("OnChange without a transaction for %s", ev.Kind)
			}
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	tt.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		fn(t, newEnv(t, open(t), apps.EnvProduction))
	})
}

func webApp(scopes ...string) apps.RegisterInput {
	return apps.RegisterInput{
		Name: "Card Viewer", Description: "shows cards", HomepageURL: "https://cards.example/",
		Type: apps.TypeWeb, RedirectURIs: []string{tt.RedirectURI}, Scopes: scopes,
	}
}

func mustErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func oauthCode(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}

// TestReview: a user's production app is pending and obtains nothing at
// either endpoint; rejected likewise; once approved the code flow works,
// while client_credentials stays pending until approved separately.
func TestReview(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		admin := e.CreateAdmin("admin@example.com")
		alice := e.CreateUser("alice@example.com", false)
		me := apps.UserActor(dev.ID, true)

		in := webApp("profile:read", "cards:read", "cards:write")
		in.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials}
		a, secret, err := e.svc.Register(e.Ctx, me, in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != apps.StatusPending || secret == "" || len(a.Secrets) != 1 {
			t.Fatalf("registered %+v secret %q", a, secret)
		}
		if strings.Join(a.PendingScopes, " ") != "cards:write" || strings.Join(a.PendingGrants, " ") != "client_credentials" {
			t.Fatalf("pending scopes %v grants %v", a.PendingScopes, a.PendingGrants)
		}
		app := &tt.App{Client: &store.Client{ID: a.ClientID}, Secret: secret}

		for _, st := range []struct {
			name, desc string
			act        func()
		}{
			{"pending", "awaits review", func() {}},
			{"rejected", "rejected at review", func() {
				if _, err := e.svc.Reject(e.Ctx, apps.AdminActor(admin.ID, false), a.ID, "no privacy policy"); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			st.act()
			_, err := e.CodeFlowToken(app, alice.ID, "profile:read")
			if oauthCode(err) != "unauthorized_client" || !strings.Contains(err.Error(), st.desc) {
				t.Fatalf("%s: code flow err = %v", st.name, err)
			}
			_, err = e.OAuth.Token(e.Ctx, oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode, Code: "x", RedirectURI: tt.RedirectURI,
				Client: oauth.ClientCredentials{ID: a.ID, Secret: secret, Method: oauth.AuthMethodBasic}})
			if oauthCode(err) != "unauthorized_client" || !strings.Contains(err.Error(), st.desc) {
				t.Fatalf("%s: token endpoint err = %v", st.name, err)
			}
		}
		got, err := e.svc.Get(e.Ctx, me, a.ID)
		if err != nil || got.Status != apps.StatusRejected || got.ReviewReason != "no privacy policy" {
			t.Fatalf("developer sees %+v (%v)", got, err)
		}

		// The developer cannot approve their own app.
		_, err = e.svc.Approve(e.Ctx, me, a.ID, apps.ApproveInput{})
		mustErr(t, err, apps.ErrForbidden)

		// Approve the app and the sensitive scope, not client_credentials.
		a, err = e.svc.Approve(e.Ctx, apps.AdminActor(admin.ID, false), a.ID, apps.ApproveInput{Scopes: []string{"cards:write"}, Grants: []string{}})
		if err != nil || a.Status != apps.StatusActive || len(a.PendingGrants) != 1 || len(a.PendingScopes) != 0 {
			t.Fatalf("approved %+v (%v)", a, err)
		}
		if _, err := e.CodeFlowToken(app, alice.ID, "profile:read cards:write"); err != nil {
			t.Fatalf("code flow after approval: %v", err)
		}
		_, err = e.AppToken(app, "")
		if oauthCode(err) != "unauthorized_client" || !strings.Contains(err.Error(), "awaits review") {
			t.Fatalf("client_credentials before its approval: %v", err)
		}
		if _, err := e.svc.Approve(e.Ctx, apps.SystemActor(), a.ID, apps.ApproveInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.AppToken(app, "cards:read"); err != nil {
			t.Fatalf("client_credentials after approval: %v", err)
		}

		// Asking for more goes back to review for that part only.
		a, err = e.svc.RequestScopes(e.Ctx, me, a.ID, []string{"tokens:read"}, nil)
		if err != nil || a.Status != apps.StatusActive || strings.Join(a.PendingScopes, " ") != "tokens:read" {
			t.Fatalf("after RequestScopes %+v (%v)", a, err)
		}
		if _, err := e.CodeFlowToken(app, alice.ID, "profile:read"); err != nil {
			t.Fatalf("approved parts stopped working: %v", err)
		}
		if _, err := e.CodeFlowToken(app, alice.ID, "tokens:read"); oauthCode(err) != "invalid_scope" {
			t.Fatalf("pending scope granted: %v", err)
		}
		counts, err := e.svc.ReviewCounts(e.Ctx, apps.AdminActor(admin.ID, false))
		if err != nil || counts.PendingParts != 1 || counts.PendingApps != 0 {
			t.Fatalf("counts %+v (%v)", counts, err)
		}
		if _, err := e.svc.ReviewCounts(e.Ctx, me); !errors.Is(err, apps.ErrForbidden) {
			t.Fatalf("ReviewCounts by a user: %v", err)
		}
	})
}

// TestDisableStopsCredentials: disabling stops the app's live tokens and
// API keys at once; enabling revives them.
func TestDisableStopsCredentials(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		a, secret, err := e.svc.Register(e.Ctx, apps.SystemActor(), apps.RegisterInput{
			Name: "M2M", Type: apps.TypeM2M, Scopes: []string{"profile:read"}, Owner: dev.ID,
		})
		if err != nil || a.Status != apps.StatusActive {
			t.Fatalf("%+v %v", a, err)
		}
		app := &tt.App{Client: &store.Client{ID: a.ID}, Secret: secret}
		tok, err := e.AppToken(app, "profile:read")
		if err != nil {
			t.Fatal(err)
		}
		key, err := e.svc.CreateAPIKey(e.Ctx, apps.UserActor(dev.ID, true), apps.APIKeyInput{ClientID: a.ID, Name: "k", Scopes: []string{"profile:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateAPIKey(e.Ctx, apps.UserActor(dev.ID, false), apps.APIKeyInput{ClientID: a.ID, Name: "k2"}); !errors.Is(err, apps.ErrNeedsInPerson) {
			t.Fatalf("bearer-only key mint: %v", err)
		}
		works := func() (tokOK, keyOK bool) {
			r := e.Do("GET", tt.WhoAmI, "", tt.Bearer(tok.AccessToken)...)
			_, kerr := e.APIKeys.Validate(e.Ctx, key.Secret, netip.MustParseAddr("127.0.0.1"))
			return r.Status == 200, kerr == nil
		}
		if tk, k := works(); !tk || !k {
			t.Fatalf("before disable: token %v key %v", tk, k)
		}
		if _, err := e.svc.Disable(e.Ctx, apps.SystemActor(), a.ID, "abuse"); err != nil {
			t.Fatal(err)
		}
		if tk, k := works(); tk || k {
			t.Fatalf("after disable: token %v key %v", tk, k)
		}
		if _, err := e.svc.Enable(e.Ctx, apps.SystemActor(), a.ID); err != nil {
			t.Fatal(err)
		}
		if tk, k := works(); !tk || !k {
			t.Fatalf("after enable: token %v key %v", tk, k)
		}
		// Delete revokes everything.
		if err := e.svc.Delete(e.Ctx, apps.UserActor(dev.ID, false), a.ID); err != nil {
			t.Fatal(err)
		}
		if tk, k := works(); tk || k {
			t.Fatalf("after delete: token %v key %v", tk, k)
		}
	})
}

// TestRotation: two secrets work at once; at most two; retiring one stops
// it; an unretired old secret stops by itself after the grace period.
func TestRotation(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		me := apps.UserActor(dev.ID, true)
		a, s1, err := e.svc.Register(e.Ctx, apps.SystemActor(), apps.RegisterInput{
			Name: "M2M", Type: apps.TypeM2M, Scopes: []string{"profile:read"}, Owner: dev.ID,
		})
		if err != nil {
			t.Fatal(err)
		}
		ok := func(secret string) bool {
			_, err := e.AppToken(&tt.App{Client: &store.Client{ID: a.ID}, Secret: secret}, "")
			return err == nil
		}
		if _, _, err := e.svc.RotateSecret(e.Ctx, apps.UserActor(dev.ID, false), a.ID); !errors.Is(err, apps.ErrNeedsInPerson) {
			t.Fatalf("rotation by bearer: %v", err)
		}
		e.Clock.Advance(time.Second) // secrets are listed oldest first
		s2, info2, err := e.svc.RotateSecret(e.Ctx, me, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok(s1) || !ok(s2) {
			t.Fatalf("both secrets should work: old %v new %v", ok(s1), ok(s2))
		}
		if _, _, err := e.svc.RotateSecret(e.Ctx, me, a.ID); !errors.Is(err, apps.ErrTooManySecrets) {
			t.Fatalf("third secret: %v", err)
		}
		got, err := e.svc.Get(e.Ctx, me, a.ID)
		if err != nil || len(got.Secrets) != 2 || got.Secrets[0].RetireAt == nil || got.Secrets[1].RetireAt != nil {
			t.Fatalf("secrets %+v (%v)", got.Secrets, err)
		}
		if want := e.Clock.Now().Add(apps.DefaultSecretRetireAfter); got.Secrets[0].RetireAt.Sub(want).Abs() > time.Second {
			t.Fatalf("RetireAt %v, want about %v", got.Secrets[0].RetireAt, want)
		}
		// The only live secret cannot be retired.
		if err := e.svc.RetireSecret(e.Ctx, me, a.ID, got.Secrets[0].ID); err != nil {
			t.Fatal(err)
		}
		if ok(s1) || !ok(s2) {
			t.Fatalf("after retiring the old: old %v new %v", ok(s1), ok(s2))
		}
		mustErr(t, e.svc.RetireSecret(e.Ctx, me, a.ID, info2.ID), apps.ErrInvalid)

		// Automatic retirement: rotate, let the grace period pass.
		s3, _, err := e.svc.RotateSecret(e.Ctx, me, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(apps.DefaultSecretRetireAfter + time.Second)
		e.OAuth.ForgetClient(a.ID)
		if ok(s2) || !ok(s3) {
			t.Fatalf("after the grace period: old %v new %v", ok(s2), ok(s3))
		}
		if got, _ := e.svc.Get(e.Ctx, me, a.ID); len(got.Secrets) != 1 {
			t.Fatalf("live secrets after the grace period: %+v", got.Secrets)
		}
		// ... so a new rotation is allowed again.
		if _, _, err := e.svc.RotateSecret(e.Ctx, me, a.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRotationRace: many rotations at once never leave more than two live
// secrets (the app's row is locked for the count and the insert).
func TestRotationRace(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		a, _, err := e.svc.Register(e.Ctx, apps.SystemActor(), apps.RegisterInput{Name: "M2M", Type: apps.TypeM2M, Scopes: []string{"profile:read"}, Owner: dev.ID})
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, err := e.svc.RotateSecret(e.Ctx, apps.SystemActor(), a.ID)
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		okN := 0
		for err := range errs {
			switch {
			case err == nil:
				okN++
			case errors.Is(err, apps.ErrTooManySecrets), errors.Is(err, store.ErrSerialization):
			default:
				t.Errorf("rotation: %v", err)
			}
		}
		got, err := e.svc.Get(e.Ctx, apps.SystemActor(), a.ID)
		if err != nil || okN != 1 || len(got.Secrets) != 2 {
			t.Fatalf("%d rotations succeeded, %d live secrets (%v)", okN, len(got.Secrets), err)
		}
	})
}

// TestPermissions: a user sees and edits only their own apps; an unknown
// app and someone else's answer alike.
func TestPermissions(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		other := e.CreateUser("other@example.com", false)
		admin := e.CreateAdmin("admin@example.com")
		me, them := apps.UserActor(dev.ID, true), apps.UserActor(other.ID, true)
		a, _, err := e.svc.Register(e.Ctx, me, webApp("profile:read"))
		if err != nil {
			t.Fatal(err)
		}
		name := "Renamed"
		checks := map[string]error{}
		_, checks["Get"] = e.svc.Get(e.Ctx, them, a.ID)
		_, checks["Update"] = e.svc.Update(e.Ctx, them, a.ID, apps.UpdateInput{Name: &name})
		_, _, checks["RotateSecret"] = e.svc.RotateSecret(e.Ctx, them, a.ID)
		checks["Delete"] = e.svc.Delete(e.Ctx, them, a.ID)
		_, checks["RequestScopes"] = e.svc.RequestScopes(e.Ctx, them, a.ID, []string{"cards:read"}, nil)
		checks["SetLogo"] = e.svc.SetLogo(e.Ctx, them, a.ID, pngBytes(t, 10, 10))
		_, checks["ListAPIKeys"] = e.svc.ListAPIKeys(e.Ctx, them, a.ID)
		_, checks["Approve"] = e.svc.Approve(e.Ctx, them, a.ID, apps.ApproveInput{})
		for op, err := range checks {
			if !errors.Is(err, apps.ErrNotFound) {
				t.Errorf("%s by another user: %v, want ErrNotFound", op, err)
			}
		}
		_, err = e.svc.Get(e.Ctx, me, "no-such-app")
		mustErr(t, err, apps.ErrNotFound)

		list, _, err := e.svc.List(e.Ctx, them, apps.ListFilter{Owner: dev.ID})
		if err != nil || len(list) != 0 {
			t.Fatalf("another user's list: %v (%v)", list, err)
		}
		list, _, err = e.svc.List(e.Ctx, apps.AdminActor(admin.ID, false), apps.ListFilter{Status: apps.StatusPending})
		if err != nil || len(list) != 1 {
			t.Fatalf("admin pending list: %v (%v)", list, err)
		}
		// A stale Admin flag on the actor grants nothing.
		_, err = e.svc.Approve(e.Ctx, apps.AdminActor(dev.ID, false), a.ID, apps.ApproveInput{})
		mustErr(t, err, apps.ErrForbidden)

		// The owner edits details and redirect URIs without a new review.
		uris := []string{tt.RedirectURI, "https://cards.example/cb2"}
		got, err := e.svc.Update(e.Ctx, me, a.ID, apps.UpdateInput{Name: &name, RedirectURIs: &uris})
		if err != nil || got.Name != name || len(got.RedirectURIs) != 2 {
			t.Fatalf("update: %+v (%v)", got, err)
		}
		bad := []string{"http://evil.example/cb"}
		_, err = e.svc.Update(e.Ctx, me, a.ID, apps.UpdateInput{RedirectURIs: &bad})
		mustErr(t, err, apps.ErrInvalid)

		// Minting a secret at registration needs the user in person.
		_, _, err = e.svc.Register(e.Ctx, apps.UserActor(dev.ID, false), webApp("profile:read"))
		mustErr(t, err, apps.ErrNeedsInPerson)
		// A public app mints nothing.
		spa := webApp("profile:read")
		spa.Type = apps.TypeSPA
		if _, secret, err := e.svc.Register(e.Ctx, apps.UserActor(dev.ID, false), spa); err != nil || secret != "" {
			t.Fatalf("spa: secret %q (%v)", secret, err)
		}
	})
}

// TestListPaging walks the pages with the cursor.
func TestListPaging(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		for i := 0; i < 5; i++ {
			in := webApp("profile:read")
			in.Type = apps.TypeNative
			in.RedirectURIs = []string{"http://127.0.0.1/cb"}
			if _, _, err := e.svc.Register(e.Ctx, apps.UserActor(dev.ID, false), in); err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(time.Millisecond)
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			page, next, err := e.svc.List(e.Ctx, apps.UserActor(dev.ID, false), apps.ListFilter{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, a := range page {
				if seen[a.ID] {
					t.Fatalf("app %s listed twice", a.ID)
				}
				seen[a.ID] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 5 || pages != 3 {
			t.Fatalf("%d apps in %d pages", len(seen), pages)
		}
		_, _, err := e.svc.List(e.Ctx, apps.UserActor(dev.ID, false), apps.ListFilter{Cursor: "junk"})
		mustErr(t, err, apps.ErrInvalid)
	})
}

func pngBytes(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLogo: accepted formats are re-encoded as PNG within 256×256; other
// bytes and oversized files are refused.
func TestLogo(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		me := apps.UserActor(dev.ID, true)
		a, _, err := e.svc.Register(e.Ctx, me, webApp("profile:read"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Logo(e.Ctx, a.ID)
		mustErr(t, err, apps.ErrNotFound)

		var jb bytes.Buffer
		if err := jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 300, 150)), nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			data []byte
			ok   bool
			w, h int
		}{
			{"small png", pngBytes(t, 40, 30), true, 40, 30},
			{"large png", pngBytes(t, 1000, 500), true, 256, 128},
			{"jpeg", jb.Bytes(), true, 256, 128},
			{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), false, 0, 0},
			{"empty", nil, false, 0, 0},
			{"too big", append(pngBytes(t, 10, 10), make([]byte, apps.MaxLogoBytes)...), false, 0, 0},
			{"truncated png", pngBytes(t, 50, 50)[:60], false, 0, 0},
		} {
			err := e.svc.SetLogo(e.Ctx, me, a.ID, c.data)
			if !c.ok {
				if !errors.Is(err, apps.ErrInvalid) {
					t.Fatalf("%s: %v, want ErrInvalid", c.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			b, ct, err := e.svc.Logo(e.Ctx, a.ID)
			if err != nil || ct != "image/png" {
				t.Fatalf("%s: Logo %q %v", c.name, ct, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() != c.w || img.Bounds().Dy() != c.h {
				t.Fatalf("%s: stored %v (%v), want %dx%d", c.name, img.Bounds(), err, c.w, c.h)
			}
		}
		if got, _ := e.svc.Get(e.Ctx, me, a.ID); !got.HasLogo {
			t.Fatal("HasLogo false after SetLogo")
		}
	})
}

// TestSandbox: apps are approved on registration and their secrets carry
// the sandbox label.
func TestSandbox(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		e := newEnv(t, open(t), apps.EnvSandbox)
		dev := e.CreateUser("dev@example.com", false)
		in := webApp("profile:read", "cards:write")
		in.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials}
		a, secret, err := e.svc.Register(e.Ctx, apps.UserActor(dev.ID, true), in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != apps.StatusActive || len(a.PendingScopes)+len(a.PendingGrants) != 0 || a.Environment != apps.EnvSandbox {
			t.Fatalf("sandbox app %+v", a)
		}
		if !strings.HasPrefix(secret, "gths_test_") {
			t.Fatalf("sandbox secret %q lacks the sandbox label", secret)
		}
	})
}

// TestEmailVerificationHook: an unverified account cannot register.
func TestEmailVerificationHook(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		st := open(t)
		e := newEnv(t, st, "")
		dev := e.CreateUser("dev@example.com", false)
		svc, err := apps.New(apps.Config{Store: st, Hasher: e.Hasher, Now: e.Clock.Now, Random: rand.Reader,
			RequireVerifiedEmail: func(context.Context, string) (bool, error) { return false, nil }})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.Register(e.Ctx, apps.UserActor(dev.ID, true), webApp("profile:read"))
		mustErr(t, err, apps.ErrEmailUnverified)
		if _, _, err := svc.Register(e.Ctx, apps.SystemActor(), apps.RegisterInput{Name: "x", Type: apps.TypeM2M, Scopes: []string{"profile:read"}, Owner: dev.ID}); err != nil {
			t.Fatalf("the operator is not asked: %v", err)
		}
	})
}

var _ = apikey.ErrNotFound
