package oauth_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
)

// verifyAccessJWT checks tok like a resource server would with only the
// published keys: an EdDSA JWS of typ at+jwt whose kid is in /oauth/jwks.
// It returns the claims.
func verifyAccessJWT(t *testing.T, e *env, tok string) map[string]any {
	t.Helper()
	r := e.do("GET", "/oauth/jwks", nil)
	if r.status != http.StatusOK {
		t.Fatalf("jwks: %d", r.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("access token is not an EdDSA JWS: %v (%.20s)", err, tok)
	}
	h := jws.Signatures[0].Header
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Fatalf("typ %v, want at+jwt", h.ExtraHeaders[jose.HeaderType])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("JWT access token does not verify with the JWKS: %v", err)
	}
	var cl map[string]any
	if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestClientAccessTokenFormat: the format of an access token is the API's
// token_format when the token is meant for an API that sets one, else the
// client's access_token_format, else the server default — whichever way
// each of them points.
func TestClientAccessTokenFormat(t *testing.T) {
	// apis: cards sets a format (opaque in one server, jwt in the other),
	// ledger never does.
	servers := map[string]envOpts{
		"default opaque, cards opaque": {realKeys: true, jwtKeys: true, apis: []oauth.API{
			{Identifier: apiCards, Name: "Cards API", Scopes: []string{scope.ProfileRead}, TokenFormat: oauth.FormatOpaque},
			{Identifier: apiLedger, Name: "Ledger API", Scopes: []string{scope.TokensRead}},
		}},
		"default jwt, cards jwt": {realKeys: true, jwtAccess: true, apis: []oauth.API{
			{Identifier: apiCards, Name: "Cards API", Scopes: []string{scope.ProfileRead}, TokenFormat: oauth.FormatJWT},
			{Identifier: apiLedger, Name: "Ledger API", Scopes: []string{scope.TokensRead}},
		}},
	}
	cases := []struct {
		server   string
		client   string // the client's access_token_format
		resource string // "" for none
		wantJWT  bool
	}{
		{"default opaque, cards opaque", "", "", false},
		{"default opaque, cards opaque", oauth.FormatJWT, "", true},
		{"default opaque, cards opaque", oauth.FormatOpaque, "", false},
		{"default opaque, cards opaque", oauth.FormatJWT, apiLedger, true}, // no API format: the client's
		{"default opaque, cards opaque", oauth.FormatJWT, apiCards, false}, // the API's wins
		{"default opaque, cards opaque", "", apiLedger, false},             // server default
		{"default jwt, cards jwt", "", "", true},
		{"default jwt, cards jwt", oauth.FormatOpaque, "", false},
		{"default jwt, cards jwt", oauth.FormatOpaque, apiLedger, false}, // no API format: the client's
		{"default jwt, cards jwt", oauth.FormatOpaque, apiCards, true},   // the API's wins
		{"default jwt, cards jwt", oauth.FormatJWT, "", true},
	}
	envs := map[string]*env{}
	for name, o := range servers {
		envs[name] = newEnv(t, openSQLite, o)
	}
	for i, tc := range cases {
		name := tc.server + "/client " + tc.client + "/resource " + tc.resource
		t.Run(name, func(t *testing.T) {
			e := envs[tc.server]
			owner := e.user(fmt.Sprintf("owner%d@example.com", i))
			a := e.client(owner, oauth.NewClient{
				Name: "Worker", GrantTypes: []string{oauth.GrantClientCredentials}, AccessTokenFormat: tc.client,
			})
			if a.AccessTokenFormat != tc.client {
				t.Fatalf("client registered with format %q", a.AccessTokenFormat)
			}
			params := []string{}
			if tc.resource != "" {
				params = append(params, "resource", tc.resource)
			}
			tok := e.ccToken(a, params...)
			if isJWT := strings.Count(tok, ".") == 2; isJWT != tc.wantJWT {
				t.Fatalf("JWT = %v, want %v (%.24s)", isJWT, tc.wantJWT, tok)
			}
			if tc.wantJWT {
				cl := verifyAccessJWT(t, e, tok)
				if cl["client_id"] != a.ID || cl["sub"] != a.ID {
					t.Errorf("claims %v", cl)
				}
			} else if !strings.HasPrefix(tok, "gtha_") {
				t.Errorf("opaque token %.12s lacks the access token prefix", tok)
			}
			// Either way the token validates, as the client's token.
			info, err := e.svc.ValidateAccessToken(e.ctx, tok)
			if err != nil || info.ClientID != a.ID {
				t.Errorf("ValidateAccessToken: %+v %v", info, err)
			}
		})
	}
}

// TestClientAccessTokenFormatRegistration: the format is checked at
// registration: an unknown value, a resource server with a format, and jwt
// on a server without JWT signing keys are refused.
func TestClientAccessTokenFormatRegistration(t *testing.T) {
	e := newEnv(t, openSQLite) // no JWT keys
	owner := e.user("owner@example.com")
	base := oauth.NewClient{Name: "App", OwnerID: owner.ID, GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{scope.ProfileRead}}
	for _, tc := range []struct {
		name string
		mod  func(*oauth.NewClient)
		want string
	}{
		{"unknown format", func(n *oauth.NewClient) { n.AccessTokenFormat = "paseto" }, `access token format "paseto"`},
		{"jwt without keys", func(n *oauth.NewClient) { n.AccessTokenFormat = oauth.FormatJWT }, "JWT access tokens are not available"},
		{"resource server", func(n *oauth.NewClient) {
			*n = oauth.NewClient{Name: "API", OwnerID: owner.ID, ResourceServer: apiCards, AccessTokenFormat: oauth.FormatOpaque}
		}, "no access token format"},
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
	nc := base
	nc.AccessTokenFormat = oauth.FormatOpaque
	if _, _, err := e.svc.CreateClient(e.ctx, nc); err != nil {
		t.Fatalf("opaque without JWT keys: %v", err)
	}
}

// TestJWTAccessTokenRecordIsItsJTI: a JWT access token is honoured through
// its record, found by its jti once the signature verified. The same claims
// signed again (ES256 signatures differ every time) are the same token; a
// validly signed JWT whose jti was never recorded, or that has none, is
// not; revoking the token revokes every signing of it.
func TestJWTAccessTokenRecordIsItsJTI(t *testing.T) {
	e := newEnv(t, openSQLite, envOpts{realKeys: true, jwtAccess: true})
	owner := e.user("owner@example.com")
	a := e.client(owner, oauth.NewClient{Name: "Worker", GrantTypes: []string{oauth.GrantClientCredentials}})
	tok := e.ccToken(a)
	claims := verifyAccessJWT(t, e, tok)
	resign := func(change func(map[string]any)) string {
		t.Helper()
		cl := maps.Clone(claims)
		change(cl)
		payload, _ := json.Marshal(cl)
		out, err := e.jwt.SignTyped(e.ctx, "ES256", "at+jwt", payload)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	same := resign(func(map[string]any) {})
	if same == tok {
		t.Fatal("the re-signed token is the original")
	}
	if info, err := e.svc.ValidateAccessToken(e.ctx, same); err != nil || info.ID != claims["jti"] {
		t.Fatalf("the same claims signed again: %+v %v", info, err)
	}
	for name, change := range map[string]func(map[string]any){
		"unrecorded jti": func(cl map[string]any) { cl["jti"] = "0190b2c4-0000-7000-8000-000000000000" },
		"no jti":         func(cl map[string]any) { delete(cl, "jti") },
	} {
		if info, err := e.svc.ValidateAccessToken(e.ctx, resign(change)); err == nil {
			t.Errorf("%s: accepted as %+v", name, info)
		}
	}
	r := e.postForm(oauth.PathRevoke, url.Values{"token": {same}}, basicAuth(a.ID, a.secret)...)
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for _, tk := range []string{tok, same} {
		if _, err := e.svc.ValidateAccessToken(e.ctx, tk); err == nil {
			t.Errorf("a signing of the revoked token is still accepted")
		}
	}
}
