package oauth_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
)

// TestOIDCPairwiseSubjects: OpenID Connect Core §8.1. Two pairwise clients
// on different hosts see different subs for the same user, neither of them
// the user's id; the same client sees the same sub on every sign-in;
// UserInfo, introspection and the JWT access token carry the ID token's sub;
// go-oidc verifies the ID token; a public client still sees the user's id;
// and id_token_hint holding a pairwise sub is matched to the signed-in user.
func TestOIDCPairwiseSubjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		bob := e.user("bob@example.com")
		pw := oauth.NewClient{Name: "Pairwise", SubjectType: oauth.SubjectPairwise}
		a := e.oidcApp(owner, pw)
		pw.Name, pw.RedirectURIs = "Pairwise elsewhere", []string{otherRedirectURI}
		other := e.oidcApp(owner, pw)
		// A second app on a's host is in a's sector: the same sub (§8.1: the
		// sector identifier is the host).
		pw.Name, pw.RedirectURIs = "Pairwise same host", []string{redirectURI + "/second"}
		sameHost := e.oidcApp(owner, pw)
		public := e.oidcApp(owner, oauth.NewClient{Name: "Public"})

		b := e.browser()
		b.login(alice.Email)
		tok, idt, _ := oidcFlow(t, e, b, a, scope.OpenID, scope.Email, scope.OfflineAccess)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token despite offline_access")
		}
		sub := idt.Subject
		if sub == "" || sub == alice.ID || strings.Contains(sub, alice.ID) {
			t.Fatalf("pairwise sub %q: empty or reveals the user id %q", sub, alice.ID)
		}
		_, idtOther, _ := oidcFlow(t, e, b, other, scope.OpenID)
		if idtOther.Subject == sub || idtOther.Subject == alice.ID {
			t.Errorf("another sector's sub %q: same as %q or the user id", idtOther.Subject, sub)
		}
		if _, idtSame, _ := oidcFlow(t, e, b, sameHost, scope.OpenID); idtSame.Subject != sub {
			t.Errorf("same host, other client: sub %q, want %q", idtSame.Subject, sub)
		}
		if _, idtPub, _ := oidcFlow(t, e, b, public, scope.OpenID); idtPub.Subject != alice.ID {
			t.Errorf("public client: sub %q, want the user id %q", idtPub.Subject, alice.ID)
		}

		// Signing in again (another browser, another session) gives the same sub.
		b2 := e.browser()
		b2.login(alice.Email)
		if _, idt2, _ := oidcFlow(t, e, b2, a, scope.OpenID); idt2.Subject != sub {
			t.Errorf("second sign-in: sub %q, want %q", idt2.Subject, sub)
		}
		// Another user of the same client: another sub.
		bb := e.browser()
		bb.login(bob.Email)
		if _, idtBob, _ := oidcFlow(t, e, bb, a, scope.OpenID); idtBob.Subject == sub || idtBob.Subject == bob.ID {
			t.Errorf("bob's sub %q (alice's %q, bob's id %q)", idtBob.Subject, sub, bob.ID)
		}

		// UserInfo: ours and go-oidc's agree with the ID token.
		if r := e.do("GET", oauth.PathUserInfo, nil, bearer(tok.AccessToken)...); r.status != http.StatusOK || r.json(t)["sub"] != sub {
			t.Errorf("userinfo: %d %s, want sub %q", r.status, r.body, sub)
		}
		ctx := oidc.ClientContext(e.octx(), e.srv.Client())
		provider, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != sub {
			t.Errorf("go-oidc UserInfo: %+v %v", ui, err)
		}
		// Introspection of the client's own access and refresh tokens.
		if got := e.introspect(a, tok.AccessToken); got["active"] != true || got["sub"] != sub {
			t.Errorf("introspect access token: %v, want sub %q", got, sub)
		}
		if got := e.introspect(a, tok.RefreshToken); got["active"] != true || got["sub"] != sub {
			t.Errorf("introspect refresh token: %v, want sub %q", got, sub)
		}
		// A refreshed ID token keeps the sub (§12.2: "its sub Claim Value
		// MUST be the same as in the ID Token issued when the original
		// authentication occurred").
		r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basicAuth(a.ID, a.secret)...)
		raw, _ := r.json(t)["id_token"].(string)
		if idtR, err := provider.Verifier(&oidc.Config{ClientID: a.ID}).Verify(ctx, raw); err != nil || idtR.Subject != sub {
			t.Errorf("refreshed ID token: %v, %+v, want sub %q", err, idtR, sub)
		}

		// id_token_hint holding a pairwise sub: the signed-in user matches
		// (computed forwards), another user does not.
		hint := tok.Extra("id_token").(string)
		q := redirectParams(t, b.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "scope": {"openid"}, "id_token_hint": {hint}})), false)
		if q.Get("code") == "" {
			t.Errorf("pairwise id_token_hint of the signed-in user: %v", q)
		}
		q = redirectParams(t, bb.get(authorizeURL(e, a, url.Values{"prompt": {"none"}, "scope": {"openid"}, "id_token_hint": {hint}})), false)
		if q.Get("error") != "login_required" {
			t.Errorf("pairwise id_token_hint of another user: %v", q)
		}
		// RP-initiated logout with that hint: bob is asked to confirm,
		// alice is signed out at once.
		if p := bb.get(oauth.PathLogout + "?" + url.Values{"id_token_hint": {hint}}.Encode()); p.url.Path != "/logout" {
			t.Errorf("another user's pairwise hint at logout: %d %s", p.status, p.url)
		}
		if p := b.get(oauth.PathLogout + "?" + url.Values{"id_token_hint": {hint}}.Encode()); p.url.Path != "/login" {
			t.Errorf("own pairwise hint at logout: %d %s", p.status, p.url)
		}
		if b.get("/account").url.Path == "/account" {
			t.Error("still signed in after logout with a pairwise hint")
		}
	})
}

// TestOIDCPairwiseWithJWTAccessToken: the JWT access token of a pairwise
// client names the user by the ID token's sub.
func TestOIDCPairwiseWithJWTAccessToken(t *testing.T) {
	e := newEnv(t, openSQLite, envOpts{realKeys: true, jwtKeys: true})
	owner := e.user("owner@example.com")
	alice := e.user("alice@example.com")
	a := e.oidcApp(owner, oauth.NewClient{SubjectType: oauth.SubjectPairwise, AccessTokenFormat: oauth.FormatJWT})
	b := e.browser()
	b.login(alice.Email)
	tok, idt, _ := oidcFlow(t, e, b, a, scope.OpenID)
	if idt.Subject == alice.ID {
		t.Fatalf("pairwise client got the user id as sub")
	}
	cl := verifyAccessJWT(t, e, tok.AccessToken)
	if cl["sub"] != idt.Subject || cl["client_id"] != a.ID {
		t.Errorf("JWT access token claims %v, want sub %q", cl, idt.Subject)
	}
	if r := e.do("GET", oauth.PathUserInfo, nil, bearer(tok.AccessToken)...); r.status != http.StatusOK || r.json(t)["sub"] != idt.Subject {
		t.Errorf("userinfo: %d %s", r.status, r.body)
	}
}

// TestOIDCPairwiseRegistration: pairwise needs one sector; redirect URIs on
// two hosts are refused with a message saying why, and a resource server
// has no subject type. Discovery lists both subject types.
func TestOIDCPairwiseRegistration(t *testing.T) {
	e := newEnv(t, openSQLite)
	owner := e.user("owner@example.com")
	base := oauth.NewClient{Name: "App", OwnerID: owner.ID, GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{scope.OpenID},
		SubjectType: oauth.SubjectPairwise}
	for _, tc := range []struct {
		name string
		mod  func(*oauth.NewClient)
		want string
	}{
		{"two hosts", func(n *oauth.NewClient) { n.RedirectURIs = []string{redirectURI, otherRedirectURI} }, "every redirect URI on one host"},
		{"no redirect URI", func(n *oauth.NewClient) {
			n.GrantTypes, n.Scopes = []string{oauth.GrantClientCredentials}, []string{scope.ProfileRead}
		}, "needs a redirect URI"},
		{"unknown type", func(n *oauth.NewClient) { n.RedirectURIs, n.SubjectType = []string{redirectURI}, "random" }, `subject type "random"`},
		{"resource server", func(n *oauth.NewClient) {
			*n = oauth.NewClient{Name: "API", OwnerID: owner.ID, ResourceServer: apiCards, SubjectType: oauth.SubjectPairwise}
		}, "no access token format or subject type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := base
			tc.mod(&nc)
			_, _, err := e.svc.CreateClient(e.ctx, nc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Two paths and ports on one host are one sector.
	nc := base
	nc.RedirectURIs = []string{redirectURI, "https://app.example:8443/cb2"}
	if _, _, err := e.svc.CreateClient(e.ctx, nc); err != nil {
		t.Fatalf("one host: %v", err)
	}
	if got := e.svc.Discovery().SubjectTypesSupported; !slices.Equal(got, []string{"public", "pairwise"}) {
		t.Errorf("subject_types_supported = %v", got)
	}
}

// TestSectorOf: the sector of a pairwise client's subjects.
func TestSectorOf(t *testing.T) {
	for _, tc := range []struct {
		uris    []string
		want    string
		wantErr bool
	}{
		{[]string{"https://App.Example/cb"}, "app.example", false},
		{[]string{"https://app.example/a", "https://app.example:444/b"}, "app.example", false},
		{[]string{"http://127.0.0.1:1234/cb", "http://127.0.0.1/cb"}, "127.0.0.1", false},
		{[]string{"com.example.app:/oauth"}, "com.example.app", false},
		{[]string{"https://a.example/cb", "https://b.example/cb"}, "", true},
		{nil, "", true},
	} {
		got, err := oauth.SectorOf(tc.uris)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("SectorOf(%q) = %q, %v; want %q (error %v)", tc.uris, got, err, tc.want, tc.wantErr)
		}
	}
}
