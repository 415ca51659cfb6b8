package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// oidcApp is a client allowed the OpenID Connect scopes.
func (e *env) oidcApp(owner *store.User, nc oauth.NewClient) *app {
	if nc.Scopes == nil {
		nc.Scopes = []string{scope.OpenID, scope.Profile, scope.Email, scope.OfflineAccess, scope.ProfileRead}
	}
	return e.client(owner, nc)
}

type idClaims struct {
	Sub           string   `json:"sub"`
	Nonce         string   `json:"nonce"`
	AuthTime      int64    `json:"auth_time"`
	AMR           []string `json:"amr"`
	ACR           string   `json:"acr"`
	AZP           string   `json:"azp"`
	AtHash        string   `json:"at_hash"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	Name          string   `json:"name"`
}

// oidcFlow runs a browserless code + PKCE flow with go-oidc verifying the ID
// token (signature via the JWKS, iss, aud, exp, nonce, at_hash).
func oidcFlow(t *testing.T, e *env, b *browser, a *app, scopes ...string) (*oauth2.Token, *oidc.IDToken, idClaims) {
	t.Helper()
	ctx := oidc.ClientContext(e.octx(), e.srv.Client())
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: a.ID, ClientSecret: a.secret, RedirectURL: a.RedirectURIs[0], Endpoint: provider.Endpoint(), Scopes: scopes}
	verifier := oauth2.GenerateVerifier()
	nonce := "n-" + oauth2.GenerateVerifier()[:16]
	q := b.authorize(conf.AuthCodeURL("st-oidc", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if q.Get("error") != "" || q.Get("state") != "st-oidc" {
		t.Fatalf("authorization response: %v", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the token response")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: a.ID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token verification: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return tok, idt, c
}

func TestOIDCCodeFlowGoOIDC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.oidcApp(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)

		tok, idt, c := oidcFlow(t, e, b, a, scope.OpenID, scope.Profile, scope.Email, scope.OfflineAccess)
		if idt.Subject != alice.ID || idt.Issuer != e.issuer || !slices.Equal(idt.Audience, []string{a.ID}) {
			t.Errorf("ID token sub/iss/aud: %q %q %q", idt.Subject, idt.Issuer, idt.Audience)
		}
		if c.AuthTime == 0 || c.AuthTime > time.Now().Unix()+5 || !slices.Equal(c.AMR, []string{"pwd"}) || c.AZP != a.ID || c.ACR != oauth.ACR {
			t.Errorf("claims %+v", c)
		}
		if c.Email != alice.Email || c.EmailVerified == nil || *c.EmailVerified || c.Name != alice.Name {
			t.Errorf("profile/email claims %+v", c)
		}
		// at_hash by hand too: left half of SHA-256 of the access token.
		sum := sha256.Sum256([]byte(tok.AccessToken))
		if c.AtHash != base64.RawURLEncoding.EncodeToString(sum[:16]) {
			t.Errorf("at_hash %q", c.AtHash)
		}

		// UserInfo: GET and POST, sub matches the ID token.
		for _, method := range []string{"GET", "POST"} {
			r := e.do(method, oauth.PathUserInfo, nil, bearer(tok.AccessToken)...)
			if r.status != http.StatusOK {
				t.Fatalf("%s userinfo: %d %s", method, r.status, r.body)
			}
			ui := r.json(t)
			if ui["sub"] != idt.Subject || ui["email"] != alice.Email || ui["email_verified"] != false || ui["name"] != alice.Name {
				t.Errorf("%s userinfo %v", method, ui)
			}
		}
		// Once the address is verified (the emailed link was followed),
		// email_verified says so.
		if err := e.st.SetEmailVerified(context.Background(), alice.ID, ptrTime(time.Now())); err != nil {
			t.Fatal(err)
		}
		if ui := e.do("GET", oauth.PathUserInfo, nil, bearer(tok.AccessToken)...).json(t); ui["email_verified"] != true {
			t.Errorf("verified address: userinfo %v", ui)
		}
		// go-oidc's own UserInfo call agrees.
		ctx := oidc.ClientContext(e.octx(), e.srv.Client())
		provider, _ := oidc.NewProvider(ctx, e.issuer)
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != alice.ID || ui.Email != alice.Email {
			t.Errorf("go-oidc UserInfo: %+v %v", ui, err)
		}

		// offline_access: a refresh token, and refreshing yields a new ID
		// token for the same subject and auth_time, without nonce.
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token despite offline_access")
		}
		conf := oauth2.Config{ClientID: a.ID, ClientSecret: a.secret, Endpoint: provider.Endpoint()}
		tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		raw2, _ := tok2.Extra("id_token").(string)
		idt2, err := provider.Verifier(&oidc.Config{ClientID: a.ID}).Verify(ctx, raw2)
		if err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		var c2 idClaims
		idt2.Claims(&c2)
		if idt2.Subject != alice.ID || c2.AuthTime != c.AuthTime || c2.Nonce != "" || idt2.VerifyAccessToken(tok2.AccessToken) != nil {
			t.Errorf("refreshed ID token claims %+v", c2)
		}

		// An ID token is never an access token.
		for _, path := range []string{oauth.PathUserInfo, "/v0/me"} {
			r := e.do("GET", path, nil, bearer(raw2)...)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("ID token as bearer at %s: %d %q", path, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
	})
}

func TestOIDCNoOfflineAccessNoRefreshToken(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	a := e.oidcApp(owner, oauth.NewClient{})
	b := e.browser()
	b.login(alice.Email)
	tok, _, c := oidcFlow(t, e, b, a, scope.OpenID)
	if tok.RefreshToken != "" {
		t.Errorf("refresh token issued without offline_access")
	}
	if c.Email != "" || c.Name != "" {
		t.Errorf("claims released without their scope: %+v", c)
	}
	// Plain OAuth (no openid) keeps refresh tokens and gets no ID token.
	tok2 := e.codeFlow(b, a, scope.ProfileRead)
	if tok2.RefreshToken == "" || tok2.Extra("id_token") != nil {
		t.Errorf("plain OAuth: refresh %q, id_token %v", tok2.RefreshToken, tok2.Extra("id_token"))
	}
	// UserInfo refuses a token without openid: 403 insufficient_scope.
	r := e.do("GET", oauth.PathUserInfo, nil, bearer(tok2.AccessToken)...)
	if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("userinfo without openid: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	// No token: 401 with a bare challenge.
	r = e.do("GET", oauth.PathUserInfo, nil)
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Bearer realm="`+oauth.Realm+`"` {
		t.Errorf("userinfo without token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	r = e.do("GET", oauth.PathUserInfo, nil, bearer("gtha_nope")...)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with a bad token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

func TestOIDCDiscoveryAgreesWithRFC8414(t *testing.T) {
	e := newEnv(t, openSQLite)
	get := func(path string) map[string]any {
		r := e.do("GET", path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		return r.json(t)
	}
	as, op := get(oauth.PathMetadata), get(oauth.PathDiscovery)
	for k, v := range as {
		b1, _ := json.Marshal(v)
		b2, _ := json.Marshal(op[k])
		if string(b1) != string(b2) {
			t.Errorf("%s: RFC 8414 %s, OpenID %s", k, b1, b2)
		}
	}
	if op["jwks_uri"] != e.issuer+oauth.PathJWKS || op["userinfo_endpoint"] != e.issuer+oauth.PathUserInfo ||
		op["end_session_endpoint"] != e.issuer+oauth.PathLogout {
		t.Errorf("OpenID endpoints %v", op)
	}
	for _, k := range []string{"subject_types_supported", "id_token_signing_alg_values_supported", "claims_supported", "response_types_supported", "scopes_supported"} {
		if l, _ := op[k].([]any); len(l) == 0 {
			t.Errorf("%s missing", k)
		}
	}
	if !slices.Contains(op["scopes_supported"].([]any), any("openid")) {
		t.Errorf("scopes_supported lacks openid")
	}
}

// authorizeURL builds an authorization request for a with extra parameters.
func authorizeURL(e *env, a *app, extra url.Values) string {
	v := url.Values{
		"client_id": {a.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "state": {"st"},
		"scope": {"openid profile"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	for k, vs := range extra {
		v[k] = vs
	}
	return e.issuer + oauth.PathAuthorize + "?" + v.Encode()
}

func TestOIDCPromptMaxAgeHints(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	bob := e.user("bob@example.com")
	a := e.oidcApp(owner, oauth.NewClient{})

	// prompt=none without a session: login_required, redirected.
	b := e.browser()
	q := redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}})), false)
	if q.Get("error") != "login_required" || q.Get("state") != "st" {
		t.Errorf("prompt=none signed out: %v", q)
	}
	// login_hint prefills the sign-in page.
	p := b.get(authorizeURL(e, a, url.Values{"login_hint": {"alice@example.com"}}))
	if p.url.Path != "/login" || p.url.Query().Get("email") != "alice@example.com" {
		t.Errorf("login_hint: landed on %s", p.url)
	}
	b.login(alice.Email)
	// prompt=none signed in but without consent: consent_required.
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}})), false)
	if q.Get("error") != "consent_required" {
		t.Errorf("prompt=none without consent: %v", q)
	}
	_, idt, _ := oidcFlow(t, e, b, a, scope.OpenID, scope.Profile)
	_ = idt
	// Now consented: prompt=none succeeds.
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}})), false)
	if q.Get("code") == "" {
		t.Errorf("prompt=none with session and consent: %v", q)
	}
	// max_age: a sign-in older than max_age needs a new one.
	e.clock.Advance(10 * time.Minute)
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "max_age": {"300"}})), false)
	if q.Get("error") != "login_required" {
		t.Errorf("prompt=none past max_age: %v", q)
	}
	p = b.get(authorizeURL(e, a, url.Values{"max_age": {"300"}}))
	if p.url.Path != "/login" || p.url.Query().Get("reauth") != "1" {
		t.Errorf("max_age exceeded: landed on %s", p.url)
	}
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "max_age": {"3600"}})), false)
	if q.Get("code") == "" {
		t.Errorf("within max_age: %v", q)
	}
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"max_age": {"soon"}})), false)
	if q.Get("error") != "invalid_request" {
		t.Errorf("bad max_age: %v", q)
	}

	// id_token_hint: alice's hint for alice's session passes; for bob's
	// session it is login_required; a forged one is invalid_request.
	hint := mintHint(t, e, b, a)
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "id_token_hint": {hint}})), false)
	if q.Get("code") == "" {
		t.Errorf("matching id_token_hint: %v", q)
	}
	bb := e.browser()
	bb.login(bob.Email)
	q = redirectParams(t, bb.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "id_token_hint": {hint}})), false)
	if q.Get("error") != "login_required" {
		t.Errorf("id_token_hint of another user: %v", q)
	}
	forged := hint[:strings.LastIndex(hint, ".")+1] + "AAAA"
	q = redirectParams(t, b.get(authorizeURL(e, a, url.Values{"id_token_hint": {forged}})), false)
	if q.Get("error") != "invalid_request" {
		t.Errorf("forged id_token_hint: %v", q)
	}
}

// mintHint returns a fresh ID token of b's user for a.
func mintHint(t *testing.T, e *env, b *browser, a *app) string {
	t.Helper()
	tok, _, _ := oidcFlow(t, e, b, a, scope.OpenID, scope.Profile)
	return tok.Extra("id_token").(string)
}

func TestOIDCRPInitiatedLogout(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	const bye = "https://app.example/bye"
	a := e.oidcApp(owner, oauth.NewClient{PostLogoutRedirectURIs: []string{bye}})
	other := e.oidcApp(owner, oauth.NewClient{Name: "Other"})
	if _, _, err := e.svc.CreateClient(e.ctx, oauth.NewClient{Name: "Bad", OwnerID: owner.ID, RedirectURIs: []string{redirectURI},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{scope.OpenID}, PostLogoutRedirectURIs: []string{"http://evil.example/x"}}); err == nil {
		t.Error("a plain-http post-logout redirect URI was registered")
	}
	b := e.browser()
	b.login(alice.Email)
	hint := mintHint(t, e, b, a)
	signedIn := func(b *browser) bool { return b.get("/account").url.Path == "/account" }

	logout := func(b *browser, v url.Values) *page { return b.get(oauth.PathLogout + "?" + v.Encode()) }
	// Unregistered post_logout_redirect_uri: an error page, no redirect, still signed in.
	p := logout(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example/other"}})
	if p.location != "" || p.status != http.StatusBadRequest || !signedIn(b) {
		t.Errorf("unregistered post_logout_redirect_uri: %d %q", p.status, p.location)
	}
	// client_id of another client than the hint's: refused.
	p = logout(b, url.Values{"id_token_hint": {hint}, "client_id": {other.ID}, "post_logout_redirect_uri": {bye}})
	if p.location != "" || !signedIn(b) {
		t.Errorf("mismatched client_id: %d %q", p.status, p.location)
	}
	// No hint: the confirmation page; nothing ends yet.
	p = logout(b, url.Values{"client_id": {a.ID}, "post_logout_redirect_uri": {bye}})
	if p.url.Path != "/logout" || p.status != http.StatusOK || !signedIn(b) {
		t.Errorf("logout without hint: %d %s", p.status, p.url)
	}
	// A forged hint: the confirmation page too.
	p = logout(b, url.Values{"id_token_hint": {hint + "x"}, "post_logout_redirect_uri": {bye}})
	if p.url.Path != "/logout" || !signedIn(b) {
		t.Errorf("logout with a forged hint: %d %s", p.status, p.url)
	}
	// Someone else's hint never signs this browser's user out.
	bob := e.user("bob@example.com")
	bb := e.browser()
	bb.login(bob.Email)
	p = logout(bb, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bye}})
	if p.url.Path != "/logout" || !signedIn(bb) {
		t.Errorf("another user's hint: %d %s", p.status, p.url)
	}
	// Valid hint and registered URI: signed out, back to the app with state.
	p = logout(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bye}, "state": {"s-1"}})
	if p.status != http.StatusFound || p.location != bye+"?state=s-1" {
		t.Fatalf("logout: %d %q", p.status, p.location)
	}
	if signedIn(b) {
		t.Error("still signed in after logout")
	}
	// POST works as well (§2).
	b.login(alice.Email)
	p = b.post(oauth.PathLogout, url.Values{"id_token_hint": {hint}})
	if p.url.Path != "/login" || signedIn(b) {
		t.Errorf("POST logout: %d %s", p.status, p.url)
	}
}

func TestOIDCHybridAndImplicitOnlyWhenEnabled(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	plain := e.oidcApp(owner, oauth.NewClient{})
	hybrid := e.oidcApp(owner, oauth.NewClient{Name: "Hybrid", GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantRefreshToken}})
	b := e.browser()
	b.login(alice.Email)
	ctx := oidc.ClientContext(e.octx(), e.srv.Client())
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	half := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	verify := func(a *app, raw, nonce string) idClaims {
		t.Helper()
		idt, err := provider.Verifier(&oidc.Config{ClientID: a.ID}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("front-channel ID token: %v", err)
		}
		var c idClaims
		idt.Claims(&c)
		if c.Nonce != nonce || c.Sub != alice.ID {
			t.Errorf("claims %+v", c)
		}
		return c
	}

	for _, rt := range []string{"code id_token", "id_token token"} {
		// Off by default: unauthorized_client, in the fragment.
		p := b.get(authorizeURL(e, plain, url.Values{"response_type": {rt}, "nonce": {"n1"}}))
		if q := redirectParams(t, p, true); q.Get("error") != "unauthorized_client" {
			t.Errorf("%s for a client without implicit: %v", rt, q)
		}
		// nonce is required.
		p = b.get(authorizeURL(e, hybrid, url.Values{"response_type": {rt}}))
		if q := redirectParams(t, p, true); q.Get("error") != "invalid_request" {
			t.Errorf("%s without nonce: %v", rt, q)
		}
	}

	// code id_token: an ID token with c_hash, and the code redeems.
	p := b.get(authorizeURL(e, hybrid, url.Values{"response_type": {"id_token code"}, "nonce": {"n-hybrid"}}))
	if isConsentPage(p) {
		p = b.consent(p, "allow")
	}
	q := redirectParams(t, p, true)
	if q.Get("code") == "" || q.Get("id_token") == "" || q.Get("state") != "st" {
		t.Fatalf("hybrid response %v", q)
	}
	var raw struct {
		CHash string `json:"c_hash"`
	}
	idt, _ := provider.Verifier(&oidc.Config{ClientID: hybrid.ID}).Verify(ctx, q.Get("id_token"))
	idt.Claims(&raw)
	if raw.CHash != half(q.Get("code")) {
		t.Errorf("c_hash %q", raw.CHash)
	}
	verify(hybrid, q.Get("id_token"), "n-hybrid")
	r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirectURI},
		"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}}, basicAuth(hybrid.ID, hybrid.secret)...)
	if r.status != http.StatusOK || r.json(t)["id_token"] == nil {
		t.Fatalf("hybrid code redemption: %d %s", r.status, r.body)
	}

	// id_token token: an access token and an ID token with at_hash.
	p = b.get(authorizeURL(e, hybrid, url.Values{"response_type": {"id_token token"}, "nonce": {"n-implicit"}}))
	q = redirectParams(t, p, true)
	if q.Get("access_token") == "" || q.Get("id_token") == "" || q.Get("refresh_token") != "" {
		t.Fatalf("implicit response %v", q)
	}
	c := verify(hybrid, q.Get("id_token"), "n-implicit")
	if c.AtHash != half(q.Get("access_token")) {
		t.Errorf("at_hash %q", c.AtHash)
	}
}

// TestRaceOIDCCodeRedemption: of many concurrent redemptions of one OpenID
// Connect code, exactly one gets tokens and an ID token.
func TestRaceOIDCCodeRedemption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.oidcApp(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		q := b.authorize(authorizeURL(e, a, url.Values{"scope": {"openid offline_access"}, "nonce": {"n-race"}}))
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		ok, wins, statuses := e.race(a, url.Values{
			"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirectURI},
			"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
		})
		if ok != 1 || statuses["invalid_grant"] != racers-1 {
			t.Fatalf("%d successes, statuses %v", ok, statuses)
		}
		body := wins[0].json(t)
		if body["id_token"] == nil || body["refresh_token"] == nil {
			t.Errorf("winner's response %v", body)
		}
	})
}

func TestOIDCSelectAccountAndIDTokenNotIntrospectable(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	a := e.oidcApp(owner, oauth.NewClient{})
	b := e.browser()
	b.login(alice.Email)
	hint := mintHint(t, e, b, a)
	// An ID token introspects as inactive: it is no access token.
	if info := e.introspect(a, hint); info["active"] != false {
		t.Errorf("introspection of an ID token: %v", info)
	}
	// select_account past the prompt=login window shows the sign-in page.
	e.clock.Advance(10 * time.Minute)
	p := b.get(authorizeURL(e, a, url.Values{"prompt": {"select_account"}}))
	if p.url.Path != "/login" {
		t.Errorf("prompt=select_account: landed on %s", p.url)
	}
}

// TestOIDCAMRWithTwoFactor: a sign-in with password and TOTP is reported as
// amr ["pwd","otp","mfa"].
func TestOIDCAMRWithTwoFactor(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	key, err := e.ids.BeginTOTP(e.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		e.clock.Advance(identity.TOTPPeriod * time.Second)
		c, err := identity.TOTPCode(key.Secret, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.ids.ConfirmTOTP(e.ctx, alice.ID, code(), ""); err != nil {
		t.Fatal(err)
	}
	a := e.oidcApp(owner, oauth.NewClient{})
	b := e.browser()
	p := b.get("/login")
	f := p.form(t, "/login")
	f.Set("email", alice.Email)
	f.Set("password", password)
	p = b.post("/login", f)
	f = p.form(t, "/login/2fa")
	f.Set("code", code())
	if p = b.post("/login/2fa", f); p.url.Path != "/account" {
		t.Fatalf("after the second factor: %d %s", p.status, p.url)
	}
	_, _, c := oidcFlow(t, e, b, a, scope.OpenID)
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("amr %q", c.AMR)
	}
}

// TestOIDCSigningKeysPerClientAlg: with the store's signing keys, each
// client gets ID tokens in the algorithm it registered, which go-oidc
// verifies against the JWKS (at_hash included: SHA-512 for EdDSA).
func TestOIDCSigningKeysPerClientAlg(t *testing.T) {
	e := newEnv(t, openSQLite, envOpts{realKeys: true})
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	b := e.browser()
	b.login(alice.Email)
	ctx := oidc.ClientContext(e.octx(), e.srv.Client())
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	provider.Claims(&md)
	if !slices.Equal(md.Algs, []string{"RS256", "ES256", "EdDSA"}) {
		t.Errorf("id_token_signing_alg_values_supported %q", md.Algs)
	}
	if _, _, err := e.svc.CreateClient(e.ctx, oauth.NewClient{Name: "HS", OwnerID: owner.ID, RedirectURIs: []string{redirectURI},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{scope.OpenID}, IDTokenAlg: "HS256"}); err == nil {
		t.Error("a client registered HS256 ID tokens")
	}
	for _, alg := range []string{"", "ES256", "EdDSA"} {
		a := e.oidcApp(owner, oauth.NewClient{Name: "App " + alg, IDTokenAlg: alg})
		tok, _, _ := oidcFlow(t, e, b, a, scope.OpenID)
		raw := tok.Extra("id_token").(string)
		want := alg
		if want == "" {
			want = "RS256"
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(raw[:strings.Index(raw, ".")])
		var h struct{ Alg, Kid, Typ string }
		json.Unmarshal(hdr, &h)
		if h.Alg != want || h.Kid == "" || h.Typ != "JWT" {
			t.Errorf("client alg %q: header %+v", alg, h)
		}
		if _, err := provider.Verifier(&oidc.Config{ClientID: a.ID, SupportedSigningAlgs: []string{want}}).Verify(ctx, raw); err != nil {
			t.Errorf("%s: %v", want, err)
		}
		// The ID token is a valid id_token_hint for its client.
		q := redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "scope": {"openid"}, "id_token_hint": {raw}})), false)
		if q.Get("code") == "" {
			t.Errorf("%s id_token_hint: %v", want, q)
		}
	}
}

// TestOIDCWithJWTAccessTokens: with RFC 9068 access tokens, at_hash covers
// the JWT, UserInfo accepts it, and the ID token (typ JWT, signed by the same
// keys) is still refused as a bearer token.
func TestOIDCWithJWTAccessTokens(t *testing.T) {
	e := newEnv(t, openSQLite, envOpts{realKeys: true, jwtAccess: true})
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	a := e.oidcApp(owner, oauth.NewClient{})
	b := e.browser()
	b.login(alice.Email)
	tok, idt, _ := oidcFlow(t, e, b, a, scope.OpenID, scope.Email)
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("access token is not a JWT: %.20s", tok.AccessToken)
	}
	r := e.do("GET", oauth.PathUserInfo, nil, bearer(tok.AccessToken)...)
	if r.status != http.StatusOK || r.json(t)["sub"] != idt.Subject {
		t.Fatalf("userinfo with a JWT access token: %d %s", r.status, r.body)
	}
	raw := tok.Extra("id_token").(string)
	for _, path := range []string{oauth.PathUserInfo, "/v0/me"} {
		if r := e.do("GET", path, nil, bearer(raw)...); r.status != http.StatusUnauthorized {
			t.Errorf("ID token as bearer at %s: %d", path, r.status)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
