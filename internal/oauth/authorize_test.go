package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// authzURL builds /oauth2/authorize?… from name, value pairs.
func authzURL(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return oauth.PathAuthorize + "?" + v.Encode()
}

const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 App. B

// TestAuthorizeErrors drives every authorization-endpoint error with a
// signed-in user who already consented (so a success WOULD issue a code) and
// checks the page-or-redirect decision, the error code, and that nothing was
// issued.
func TestAuthorizeErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{RedirectURIs: []string{redirectURI, "https://app.example/other", "http://127.0.0.1/native"}})
		single := e.client(owner, oauth.NewClient{Name: "Single"})
		pub := e.client(owner, oauth.NewClient{Name: "Public", Public: true})
		cc := e.client(owner, oauth.NewClient{Name: "CC", GrantTypes: []string{oauth.GrantClientCredentials}})
		off := e.client(owner, oauth.NewClient{Name: "Disabled"})
		if err := e.st.SetClientStatus(e.ctx, off.ID, store.ClientDisabled, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		pending := e.client(owner, oauth.NewClient{Name: "Pending", Status: store.ClientPending})
		rejected := e.client(owner, oauth.NewClient{Name: "Rejected", Status: store.ClientRejected})
		b := e.browser()
		b.login(alice.Email)
		// Consent once to every client, so only the request decides.
		for _, c := range []*app{a, single} {
			q := b.authorize(authzURL("response_type", "code", "client_id", c.ID, "redirect_uri", redirectURI, "scope", "profile:read tokens:read", "state", "s"))
			if q.Get("code") == "" {
				t.Fatalf("setup: %v", q)
			}
		}

		ok := []string{"response_type", "code", "client_id", a.ID, "redirect_uri", redirectURI, "scope", "profile:read", "state", "xyz"}
		with := func(overrides ...string) string {
			v := url.Values{}
			for i := 0; i < len(ok); i += 2 {
				v.Set(ok[i], ok[i+1])
			}
			for i := 0; i < len(overrides); i += 2 {
				if overrides[i+1] == "\x00" {
					v.Del(overrides[i])
				} else {
					v.Set(overrides[i], overrides[i+1])
				}
			}
			return oauth.PathAuthorize + "?" + v.Encode()
		}
		// Sanity: the base request succeeds.
		if q := b.authorize(with()); q.Get("code") == "" {
			t.Fatalf("base request: %v", q)
		}

		pageCases := []struct {
			name, url, code string
		}{
			{"unknown client", with("client_id", "no-such-client"), "invalid_client"},
			{"missing client_id", with("client_id", "\x00"), "invalid_request"},
			{"duplicate client_id", with() + "&client_id=" + a.ID, "invalid_request"},
			{"disabled client", with("client_id", off.ID), "unauthorized_client"},
			{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/cb"), "invalid_request"},
			{"redirect_uri with extra path", with("redirect_uri", redirectURI+"/x"), "invalid_request"},
			{"redirect_uri with trailing slash", with("redirect_uri", redirectURI+"/"), "invalid_request"},
			{"redirect_uri with query", with("redirect_uri", redirectURI+"?a=1"), "invalid_request"},
			{"redirect_uri with fragment", with("redirect_uri", redirectURI+"#f"), "invalid_request"},
			{"redirect_uri other scheme", with("redirect_uri", "http://app.example/cb"), "invalid_request"},
			{"redirect_uri upper case host", with("redirect_uri", "https://APP.example/cb"), "invalid_request"},
			{"localhost instead of loopback IP", with("redirect_uri", "http://localhost/native"), "invalid_request"},
			{"missing redirect_uri with several registered", with("redirect_uri", "\x00"), "invalid_request"},
			{"duplicate redirect_uri", with() + "&redirect_uri=" + url.QueryEscape(redirectURI), "invalid_request"},
		}
		for _, tc := range pageCases {
			t.Run("page/"+tc.name, func(t *testing.T) {
				before := e.st.snapshot()
				p := b.get(tc.url)
				if p.location != "" || p.status != http.StatusBadRequest {
					t.Fatalf("want an error page (400, no redirect), got %d Location=%q", p.status, p.location)
				}
				if !strings.Contains(p.body, `<code id="oauth-error-code">`+tc.code+`</code>`) {
					t.Fatalf("page does not show %s: %.500s", tc.code, p.body)
				}
				if after := e.st.snapshot(); after != before {
					t.Fatalf("issued something: %+v → %+v", before, after)
				}
			})
		}

		redirectCases := []struct {
			name, url, code string
			fragment        bool
			noState         bool
		}{
			{"missing state", with("state", "\x00"), "invalid_request", false, true},
			{"duplicate state", with() + "&state=again", "invalid_request", false, true},
			{"duplicate scope", with() + "&scope=profile:read", "invalid_request", false, false},
			{"missing response_type", with("response_type", "\x00"), "invalid_request", false, false},
			{"unknown response_type", with("response_type", "id_token"), "unsupported_response_type", false, false},
			{"hybrid response_type", with("response_type", "code token"), "unsupported_response_type", false, false},
			{"missing scope", with("scope", "\x00"), "invalid_scope", false, false},
			{"empty scope", with("scope", " "), "invalid_scope", false, false},
			{"unknown scope", with("scope", "profile:read admin"), "invalid_scope", false, false},
			{"scope not allowed for the client", with("scope", "keys:read"), "invalid_scope", false, false},
			{"malformed scope", with("scope", `profile:read "x"`), "invalid_scope", false, false},
			{"pkce plain", with("code_challenge", challenge, "code_challenge_method", "plain"), "invalid_request", false, false},
			{"pkce method missing (plain by default)", with("code_challenge", challenge), "invalid_request", false, false},
			{"pkce method without challenge", with("code_challenge_method", "S256"), "invalid_request", false, false},
			{"pkce short challenge", with("code_challenge", "abc", "code_challenge_method", "S256"), "invalid_request", false, false},
			{"public client without pkce", with("client_id", pub.ID), "invalid_request", false, false},
			{"implicit not enabled", with("response_type", "token"), "unauthorized_client", true, false},
			{"client without the code grant", with("client_id", cc.ID), "unauthorized_client", false, false},
			// Identified client, registered redirect URI: the developer's
			// app hears why (awaits review / rejected).
			{"pending client", with("client_id", pending.ID), "unauthorized_client", false, false},
			{"rejected client", with("client_id", rejected.ID), "unauthorized_client", false, false},
			{"unknown prompt", with("prompt", "maybe"), "invalid_request", false, false},
			{"prompt none with login", with("prompt", "none login"), "invalid_request", false, false},
		}
		for _, tc := range redirectCases {
			t.Run("redirect/"+tc.name, func(t *testing.T) {
				before := e.st.snapshot()
				p := b.get(tc.url)
				q := redirectParams(t, p, tc.fragment)
				if q.Get("error") != tc.code {
					t.Fatalf("error %q (%s), want %q", q.Get("error"), q.Get("error_description"), tc.code)
				}
				if q.Get("error_description") == "" || q.Get("iss") != e.issuer || q.Has("code") || q.Has("access_token") {
					t.Fatalf("redirect params %v", q)
				}
				if tc.noState == q.Has("state") {
					t.Fatalf("state: %v", q)
				}
				if !tc.noState && q.Get("state") != "xyz" {
					t.Fatalf("state %q", q.Get("state"))
				}
				if after := e.st.snapshot(); after != before {
					t.Fatalf("issued something: %+v → %+v", before, after)
				}
			})
		}

		t.Run("review descriptions", func(t *testing.T) {
			for id, want := range map[string]string{pending.ID: "awaits review", rejected.ID: "rejected at review"} {
				q := redirectParams(t, b.get(with("client_id", id)), false)
				if !strings.Contains(q.Get("error_description"), want) {
					t.Fatalf("error_description %q does not say %q", q.Get("error_description"), want)
				}
			}
		})
		t.Run("single registered redirect_uri may be omitted", func(t *testing.T) {
			q := b.authorize(authzURL("response_type", "code", "client_id", single.ID, "scope", "profile:read", "state", "s"))
			if q.Get("code") == "" {
				t.Fatalf("%v", q)
			}
		})
		t.Run("loopback redirect with any port", func(t *testing.T) {
			q := redirectParams(t, b.get(with("redirect_uri", "http://127.0.0.1:49152/native")), false)
			if q.Get("code") == "" || q.Get("iss") != e.issuer {
				t.Fatalf("%v", q)
			}
		})
	})
}

func TestConsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{Name: "Photo Printer", Description: "Prints your photos."})
		b := e.browser()
		b.login(alice.Email)
		req := func(scope string, extra ...string) string {
			return authzURL(append([]string{"response_type", "code", "client_id", a.ID, "redirect_uri", redirectURI, "scope", scope, "state", "st"}, extra...)...)
		}

		// The page: app name, the account in use, each scope in plain
		// words, Allow, Deny — and never the developer's email.
		p := b.get(req("profile:read"))
		if !isConsentPage(p) {
			t.Fatalf("no consent page: %d %.300s", p.status, p.body)
		}
		if strings.Contains(p.body, owner.Email) {
			t.Error("consent page shows the developer's email")
		}
		for _, want := range []string{"Photo Printer", "Prints your photos.", alice.Email, "is not owned by", "Not you?", "See your name, email address", `value="allow"`, `value="deny"`, `name="csrf_token"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("consent page lacks %q", want)
			}
		}
		// Only the site's own script file (the CSP forbids inline script);
		// the page works without it.
		if n := strings.Count(p.body, "<script"); n != strings.Count(p.body, `<script src="/static/`) {
			t.Error("consent page has inline script")
		}

		t.Run("deny", func(t *testing.T) {
			before := e.st.snapshot()
			q := redirectParams(t, b.consent(p, "deny"), false)
			if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("iss") != e.issuer || q.Has("code") {
				t.Fatalf("%v", q)
			}
			if after := e.st.snapshot(); after != before {
				t.Fatalf("deny issued something: %+v → %+v", before, after)
			}
			if _, err := e.st.Consent(e.ctx, alice.ID, a.ID); err == nil {
				t.Fatal("deny stored a consent")
			}
		})

		t.Run("without CSRF token", func(t *testing.T) {
			before := e.st.snapshot()
			f := p.form(t, oauth.PathConsent)
			f.Del("csrf_token")
			f.Set("decision", "allow")
			res := b.post(oauth.PathConsent, f)
			if res.status != http.StatusForbidden || res.location != "" {
				t.Fatalf("%d %q", res.status, res.location)
			}
			if after := e.st.snapshot(); after != before {
				t.Fatalf("issued: %+v → %+v", before, after)
			}
		})

		t.Run("tampered redirect_uri in the form", func(t *testing.T) {
			before := e.st.snapshot()
			f := p.form(t, oauth.PathConsent)
			f.Set("redirect_uri", "https://evil.example/cb")
			f.Set("decision", "allow")
			res := b.post(oauth.PathConsent, f)
			if res.status != http.StatusBadRequest || res.location != "" {
				t.Fatalf("%d %q", res.status, res.location)
			}
			if after := e.st.snapshot(); after != before {
				t.Fatalf("issued: %+v → %+v", before, after)
			}
		})

		t.Run("allow, then remembered", func(t *testing.T) {
			q := redirectParams(t, b.consent(b.get(req("profile:read")), "allow"), false)
			if q.Get("code") == "" || q.Get("state") != "st" || q.Get("iss") != e.issuer {
				t.Fatalf("%v", q)
			}
			// Same scopes: no page.
			if p := b.get(req("profile:read")); isConsentPage(p) || redirectParams(t, p, false).Get("code") == "" {
				t.Fatal("consent asked again for the same scopes")
			}
			// More scopes: the page again, listing them.
			p := b.get(req("profile:read tokens:read"))
			if !isConsentPage(p) || !strings.Contains(p.body, "personal access tokens") {
				t.Fatal("no consent page for a wider scope")
			}
			b.consent(p, "allow")
			// Fewer scopes than consented: no page.
			if p := b.get(req("tokens:read")); isConsentPage(p) {
				t.Fatal("consent asked for a subset")
			}
			// prompt=consent forces the page.
			if p := b.get(req("tokens:read", "prompt", "consent")); !isConsentPage(p) {
				t.Fatal("prompt=consent did not show the page")
			}
			// prompt=none with consent on file: straight through.
			if q := redirectParams(t, b.get(req("profile:read", "prompt", "none")), false); q.Get("code") == "" {
				t.Fatalf("prompt=none: %v", q)
			}
		})

		t.Run("prompt=none without the consent", func(t *testing.T) {
			other := e.client(owner, oauth.NewClient{Name: "Other"})
			before := e.st.snapshot()
			q := redirectParams(t, b.get(authzURL("response_type", "code", "client_id", other.ID, "scope", "profile:read", "state", "s", "prompt", "none")), false)
			if q.Get("error") != "consent_required" || q.Get("state") != "s" || q.Get("iss") != e.issuer {
				t.Fatalf("%v", q)
			}
			if after := e.st.snapshot(); after != before {
				t.Fatalf("issued: %+v → %+v", before, after)
			}
		})

		t.Run("prompt=none signed out", func(t *testing.T) {
			anon := e.browser()
			q := redirectParams(t, anon.get(req("profile:read", "prompt", "none")), false)
			if q.Get("error") != "login_required" || q.Get("state") != "st" {
				t.Fatalf("%v", q)
			}
		})
	})
}

func TestSignInRedirects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		req := authzURL("response_type", "code", "client_id", a.ID, "redirect_uri", redirectURI, "scope", "profile:read", "state", "st")

		t.Run("signed out goes to sign-in and comes back", func(t *testing.T) {
			b := e.browser()
			p := b.get(req)
			if p.status != 200 || p.url.Path != "/login" || p.url.Query().Get("return_to") != req {
				t.Fatalf("landed on %s (%d)", p.url, p.status)
			}
			f := p.form(t, "/login")
			f.Set("email", alice.Email)
			f.Set("password", password)
			p = b.post("/login", f)
			if !isConsentPage(p) {
				t.Fatalf("after sign-in: %d %s", p.status, p.url)
			}
			if q := redirectParams(t, b.consent(p, "allow"), false); q.Get("code") == "" {
				t.Fatalf("%v", q)
			}
		})

		t.Run("intention=signup goes to sign-up", func(t *testing.T) {
			b := e.browser()
			p := b.get(req + "&intention=signup")
			if p.url.Path != "/signup" || !strings.HasPrefix(p.url.Query().Get("return_to"), oauth.PathAuthorize) {
				t.Fatalf("landed on %s", p.url)
			}
		})

		t.Run("prompt=login asks again after a while", func(t *testing.T) {
			b := e.browser()
			b.login(alice.Email)
			// A fresh sign-in satisfies prompt=login.
			if q := b.authorize(req + "&prompt=login"); q.Get("code") == "" {
				t.Fatalf("%v", q)
			}
			e.clock.Advance(10 * time.Minute)
			before := e.st.snapshot()
			p := b.get(req + "&prompt=login")
			if p.url.Path != "/login" || !strings.Contains(p.body, `type="password"`) {
				t.Fatalf("prompt=login did not ask for the password: %s", p.url)
			}
			if after := e.st.snapshot(); after != before {
				t.Fatalf("issued: %+v → %+v", before, after)
			}
			f := p.form(t, "/login")
			f.Set("email", alice.Email)
			f.Set("password", password)
			p = b.post("/login", f)
			if q := redirectParams(t, p, false); q.Get("code") == "" {
				t.Fatalf("after re-authentication: %v", q)
			}
		})
	})
}

func TestSeed004AuthorizePath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		// https://…/authorize/<client_id>?state=<state>&scope=accounts:read%20cards:read
		q := b.authorize("/authorize/" + a.ID + "?state=abc&scope=" + url.QueryEscape("profile:read tokens:read"))
		if q.Get("code") == "" || q.Get("state") != "abc" || q.Get("iss") != e.issuer {
			t.Fatalf("%v", q)
		}
		// curl -u <clientId>:<clientSecret> -d 'code=<code>&grant_type=authorization_code'
		r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}}, basicAuth(a.ID, a.secret)...)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["access_token"] == nil || m["refresh_token"] == nil {
			t.Fatalf("%v", m)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v", r.header)
		}
		if me := e.me(m["access_token"].(string)); me.status != 200 || me.json(t)["email"] != alice.Email {
			t.Fatalf("GET /v0/me: %d %s", me.status, me.body)
		}
		// Path and query naming different clients: an error page.
		p := b.get("/authorize/" + a.ID + "?client_id=other&state=abc&scope=profile:read")
		if p.status != 400 || p.location != "" {
			t.Fatalf("%d %q", p.status, p.location)
		}
	})
}

func TestImplicit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{Public: true, GrantTypes: []string{oauth.GrantImplicit}, AccessTTL: 24 * time.Hour})
		b := e.browser()
		b.login(alice.Email)
		u := authzURL("response_type", "token", "client_id", a.ID, "redirect_uri", redirectURI, "scope", "profile:read", "state", "imp")
		p := b.get(u)
		if isConsentPage(p) {
			p = b.consent(p, "allow")
		}
		q := redirectParams(t, p, true)
		if q.Get("token_type") != "Bearer" || q.Get("expires_in") != "86400" || q.Get("state") != "imp" ||
			q.Get("iss") != e.issuer || q.Get("scope") != "profile:read" || q.Has("refresh_token") || q.Has("code") {
			t.Fatalf("fragment %v", q)
		}
		if r := e.me(q.Get("access_token")); r.status != 200 {
			t.Fatalf("implicit token: %d %s", r.status, r.body)
		}
		// PKCE parameters do not matter for response_type=token; a code
		// request from this client is refused (it is not allowed the code
		// grant).
		q = redirectParams(t, b.get(authzURL("response_type", "code", "client_id", a.ID, "scope", "profile:read", "state", "x", "code_challenge", challenge, "code_challenge_method", "S256")), false)
		if q.Get("error") != "unauthorized_client" {
			t.Fatalf("%v", q)
		}
		// Revoking the app kills implicit tokens too (they have a grant).
		tok := b.authorizeImplicit(u)
		if err := e.svc.RevokeApp(e.ctx, alice.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.me(tok); r.status != http.StatusUnauthorized {
			t.Fatalf("implicit token after revoking the app: %d", r.status)
		}
	})
}

func (b *browser) authorizeImplicit(u string) string {
	b.e.t.Helper()
	p := b.get(u)
	if isConsentPage(p) {
		p = b.consent(p, "allow")
	}
	return redirectParams(b.e.t, p, true).Get("access_token")
}

// x/oauth2 drives a public client with PKCE (no secret at all).
func TestCodeFlowPublicClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{Public: true, RedirectURIs: []string{"http://127.0.0.1/callback"}})
		if a.secret != "" {
			t.Fatal("public client got a secret")
		}
		b := e.browser()
		b.login(alice.Email)
		conf := *a.conf
		conf.RedirectURL = "http://127.0.0.1:61234/callback" // ephemeral port (RFC 8252 §7.3)
		verifier := oauth2.GenerateVerifier()
		q := b.authorize(conf.AuthCodeURL("pub", oauth2.S256ChallengeOption(verifier)))
		if q.Get("code") == "" {
			t.Fatalf("%v", q)
		}
		tok, err := conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if st, email := profileOf(t, e, oauth2.StaticTokenSource(tok)); st != 200 || email != alice.Email {
			t.Fatalf("%d %s", st, email)
		}
		// Refresh works for a public client too (rotation protects it).
		if _, err := conf.TokenSource(e.octx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatal(err)
		}
		// Without the verifier: invalid_grant.
		q = b.authorize(conf.AuthCodeURL("pub", oauth2.S256ChallengeOption(verifier)))
		_, err = conf.Exchange(e.octx(), q.Get("code"))
		assertRetrieveError(t, err, 400, "invalid_grant")
	})
}
