package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestJWTAccessTokens: with access_token_format=jwt the token endpoint
// issues RFC 9068 tokens an independent client obtains, that verify against
// the published JWKS, that the API accepts, that introspection describes and
// that revocation kills at once; an ID-token-typed JWT and an unsigned one
// are refused.
func TestJWTAccessTokens(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{
		"GATEHOUSE_DATABASE":            filepath.Join(t.TempDir(), "gatehouse.db"),
		"GATEHOUSE_MASTER_KEY":          base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_ISSUER":              "http://127.0.0.1",
		"GATEHOUSE_ACCESS_TOKEN_FORMAT": "jwt",
		"GATEHOUSE_SIGNING_ALGORITHMS":  "RS256,EdDSA",
		"GATEHOUSE_ARGON2_MEMORY_KIB":   "8192",
		"GATEHOUSE_ARGON2_TIME":         "1",
	}
	a, srv := openAppWith(t, vars)
	u, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: "ada@example.com", Name: "Ada", Password: edgePassword})
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := a.OAuth.CreateClient(ctx, oauth.NewClient{
		Name: "Worker", OwnerID: u.ID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: srv.URL + oauth.PathToken, Scopes: []string{"profile:read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(tok.Expiry); left > 5*time.Minute || left < 4*time.Minute {
		t.Fatalf("expires in %s, want the 5-minute JWT default", left)
	}

	// Verify like a resource server: the JWKS, typ, claims.
	res, err := http.Get(srv.URL + "/oauth/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	jws, err := jose.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("not an EdDSA JWS: %v", err)
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
		t.Fatal(err)
	}
	var cl map[string]any
	json.Unmarshal(payload, &cl)
	for k, want := range map[string]any{"iss": "http://127.0.0.1", "sub": c.ID, "client_id": c.ID, "scope": "profile:read"} {
		if cl[k] != want {
			t.Errorf("claim %s = %v, want %v", k, cl[k], want)
		}
	}
	if aud, _ := cl["aud"].([]any); len(aud) != 1 || aud[0] != "http://127.0.0.1" {
		t.Errorf("aud %v", cl["aud"])
	}
	if cl["jti"] == "" || cl["exp"].(float64)-cl["iat"].(float64) != 300 {
		t.Errorf("jti/exp/iat: %v", cl)
	}

	me := func(bearer string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/v0/me", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if got := me(tok.AccessToken); got != 200 {
		t.Fatalf("API with a JWT access token: %d", got)
	}
	form := func(path string, v url.Values) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(secret))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, res.StatusCode, out)
		}
		return out
	}
	if in := form(oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}}); in["active"] != true || in["client_id"] != c.ID {
		t.Fatalf("introspection of a live JWT: %v", in)
	}

	// An ID-token-typed JWT with the same claims, signed by the same key,
	// is not an access token; neither is an unsigned one.
	idTyped, err := a.Keys.Sign(ctx, "EdDSA", payload)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + enc(payload) + "."
	for name, bad := range map[string]string{"typ JWT": idTyped, "alg none": unsigned} {
		if got := me(bad); got != 401 {
			t.Errorf("%s: API answered %d, want 401", name, got)
		}
	}

	form(oauth.PathRevoke, url.Values{"token": {tok.AccessToken}})
	if got := me(tok.AccessToken); got != 401 {
		t.Fatalf("revoked JWT still accepted by the API: %d", got)
	}
	if in := form(oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}}); in["active"] != false {
		t.Fatalf("introspection of a revoked JWT: %v", in)
	}
}
