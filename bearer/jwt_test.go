package bearer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/bearer"
)

const (
	jwtIssuer   = "https://auth.example.com"
	jwtAudience = "https://cards.example.com"
)

// jwksServer publishes a key set it counts fetches of.
type jwksServer struct {
	srv     *httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	set     jose.JSONWebKeySet
}

func newJWKSServer(t *testing.T) *jwksServer {
	j := &jwksServer{set: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		json.NewEncoder(w).Encode(j.set)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

// signingKey is a private key published under kid.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (j *jwksServer) add(t *testing.T, kid string, alg jose.SignatureAlgorithm) signingKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.set.Keys = append(j.set.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: string(alg), Use: "sig"})
	j.mu.Unlock()
	return signingKey{kid: kid, alg: alg, priv: priv}
}

func sign(t *testing.T, k signingKey, typ string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// raw builds a compact JWS by hand, for algorithms go-jose will not sign.
func raw(header, claims map[string]any, sig func(signingInput string) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig(in))
}

type jwtEnv struct {
	jwks  *jwksServer
	as    *authServer
	clock *clock
	v     *bearer.JWTValidator
	h     http.Handler
	got   atomic.Pointer[bearer.Principal]
}

func newJWTEnv(t *testing.T) *jwtEnv {
	t.Helper()
	e := &jwtEnv{jwks: newJWKSServer(t), as: newAuthServer(t), clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint: e.as.srv.URL + "/oauth2/introspect", ClientID: clientID, ClientSecret: clientSecret, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.v, err = bearer.NewJWTValidator(bearer.JWTOptions{
		Issuer: jwtIssuer, Audience: jwtAudience, JWKSURL: e.jwks.srv.URL + "/oauth/jwks",
		Fallback: in, Now: e.clock.Now, RefreshInterval: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := bearer.New(e.v, bearer.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.h = mw.Require("cards:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := bearer.FromContext(r.Context())
		e.got.Store(p)
	}))
	return e
}

func (e *jwtEnv) claims(extra ...any) map[string]any {
	now := e.clock.Now()
	m := map[string]any{
		"iss": jwtIssuer, "sub": "user-1", "aud": []string{jwtAudience}, "client_id": "app1",
		"scope": "cards:read cards:write", "jti": "j1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(m, extra[i].(string))
			continue
		}
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func TestJWTAccepted(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			e := newJWTEnv(t)
			k := e.jwks.add(t, "k-"+string(alg), alg)
			for _, typ := range []string{"at+jwt", "application/at+jwt"} {
				if a := do(t, e.h, get(sign(t, k, typ, e.claims("aud", jwtAudience)))); a.status != http.StatusOK {
					t.Fatalf("typ %s: status %d %v", typ, a.status, a.body)
				}
			}
			p := e.got.Load()
			if p.Subject != "user-1" || p.ClientID != "app1" || !p.HasScope("cards:write") || p.Kind != bearer.KindAccessToken ||
				p.Issuer != jwtIssuer || p.ExpiresAt.Unix() != e.clock.Now().Add(5*time.Minute).Unix() {
				t.Errorf("principal %+v", p)
			}
			if n := e.as.calls.Load(); n != 0 {
				t.Errorf("%d introspection calls for a JWT, want 0", n)
			}
			if n := e.jwks.fetches.Load(); n != 1 {
				t.Errorf("%d JWKS fetches, want 1 (cached)", n)
			}
		})
	}
}

func TestJWTRefused(t *testing.T) {
	e := newJWTEnv(t)
	k := e.jwks.add(t, "rsa", jose.RS256)
	ed := e.jwks.add(t, "ed", jose.EdDSA)
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	cases := []struct {
		name  string
		token string
	}{
		{"alg none", raw(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "rsa"}, e.claims(), func(string) []byte { return nil })},
		{"HS256 keyed with the public key", raw(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "rsa"}, e.claims(), func(in string) []byte {
			m := hmac.New(sha256.New, der)
			m.Write([]byte(in))
			return m.Sum(nil)
		})},
		{"alg not the key's", raw(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "ed"}, e.claims(), func(in string) []byte {
			return ed25519.Sign(ed.priv.(ed25519.PrivateKey), []byte(in))
		})},
		{"wrong audience", sign(t, k, "at+jwt", e.claims("aud", "https://other.example.com"))},
		{"no audience", sign(t, k, "at+jwt", e.claims("aud", nil))},
		{"wrong issuer", sign(t, k, "at+jwt", e.claims("iss", "https://evil.example.com"))},
		{"expired", sign(t, k, "at+jwt", e.claims("exp", now.Add(-time.Minute).Unix()))},
		{"no exp", sign(t, k, "at+jwt", e.claims("exp", nil))},
		{"issued in the future", sign(t, k, "at+jwt", e.claims("iat", now.Add(time.Hour).Unix()))},
		{"not yet valid", sign(t, k, "at+jwt", e.claims("nbf", now.Add(time.Hour).Unix()))},
		{"ID token (typ JWT)", sign(t, k, "JWT", e.claims())},
		{"no typ", raw(map[string]any{"alg": "EdDSA", "kid": "ed"}, e.claims(), func(in string) []byte {
			return ed25519.Sign(ed.priv.(ed25519.PrivateKey), []byte(in))
		})},
		{"bad signature", sign(t, k, "at+jwt", e.claims())[:50] + "x.y.z"},
		{"tampered claims", func() string {
			good := sign(t, k, "at+jwt", e.claims())
			c, _ := json.Marshal(e.claims("scope", "admin"))
			i, j := indexDot(good, 0), indexDot(good, 1)
			return good[:i+1] + base64.RawURLEncoding.EncodeToString(c) + good[j:]
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if a := do(t, e.h, get(c.token)); a.status != http.StatusUnauthorized || a.body["error"] != "invalid_token" {
				t.Fatalf("status %d %v, want 401 invalid_token", a.status, a.body)
			}
		})
	}
	if n := e.as.calls.Load(); n != 0 {
		t.Errorf("%d introspection calls, want 0: a JWT never falls back", n)
	}
}

func indexDot(s string, n int) int {
	for i := range len(s) {
		if s[i] == '.' {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// TestJWTUnknownKID: a key published after the first fetch is found by one
// refetch; a flood of unknown kids fetches at most once per interval.
func TestJWTUnknownKID(t *testing.T) {
	e := newJWTEnv(t)
	k1 := e.jwks.add(t, "k1", jose.ES256)
	if a := do(t, e.h, get(sign(t, k1, "at+jwt", e.claims()))); a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
	k2 := e.jwks.add(t, "k2", jose.ES256) // rotation: published after the fetch
	e.clock.Advance(2 * time.Minute)
	if a := do(t, e.h, get(sign(t, k2, "at+jwt", e.claims()))); a.status != http.StatusOK {
		t.Fatalf("new kid: status %d", a.status)
	}
	if n := e.jwks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Floods of forged kids, concurrently: right after a fetch none is
	// made; once the interval has passed, exactly one.
	flood := func() {
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				forged := signingKey{kid: fmt.Sprintf("forged-%d", i), alg: jose.ES256, priv: k1.priv}
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, get(sign(t, forged, "at+jwt", e.claims())))
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("forged kid: status %d", rec.Code)
				}
			}()
		}
		wg.Wait()
	}
	flood()
	if n := e.jwks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a flood right after a fetch, want 2", n)
	}
	e.clock.Advance(2 * time.Minute)
	flood()
	if n := e.jwks.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after a flood past the interval, want 3", n)
	}
	// Known keys still work without a fetch.
	if a := do(t, e.h, get(sign(t, k1, "at+jwt", e.claims()))); a.status != http.StatusOK || e.jwks.fetches.Load() != 3 {
		t.Fatalf("status %d, fetches %d", a.status, e.jwks.fetches.Load())
	}
}

// TestJWTOpaqueFallsBack: a credential without two dots goes to
// introspection.
func TestJWTOpaqueFallsBack(t *testing.T) {
	e := newJWTEnv(t)
	now := e.clock.Now()
	e.as.set(accessToken, map[string]any{"active": true, "scope": "cards:read", "sub": "user-2", "exp": now.Add(time.Hour).Unix()})
	if a := do(t, e.h, get(accessToken)); a.status != http.StatusOK {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if p := e.got.Load(); p.Subject != "user-2" {
		t.Errorf("principal %+v", p)
	}
	if e.as.calls.Load() != 1 || e.jwks.fetches.Load() != 0 {
		t.Errorf("introspection calls %d, JWKS fetches %d; want 1, 0", e.as.calls.Load(), e.jwks.fetches.Load())
	}
}

// TestJWTJWKSUnavailable: keys that cannot be fetched make the token
// uncheckable (503), never valid and never "invalid".
func TestJWTJWKSUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	t.Cleanup(srv.Close)
	v, err := bearer.NewJWTValidator(bearer.JWTOptions{Issuer: jwtIssuer, Audience: jwtAudience, JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tok := sign(t, signingKey{kid: "k", alg: jose.EdDSA, priv: priv}, "at+jwt", map[string]any{"iss": jwtIssuer})
	for range 2 {
		if _, err := v.Validate(context.Background(), tok); err == nil || errors.Is(err, bearer.ErrInvalidToken) {
			t.Fatalf("err %v, want an error that is not ErrInvalidToken", err)
		}
	}
}

func TestJWTOptionsErrors(t *testing.T) {
	for _, o := range []bearer.JWTOptions{
		{Audience: jwtAudience},
		{Issuer: jwtIssuer},
		{Issuer: "http://auth.example.com", Audience: jwtAudience},
		{Issuer: jwtIssuer, Audience: jwtAudience, JWKSURL: "/jwks"},
	} {
		if _, err := bearer.NewJWTValidator(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := bearer.NewJWTValidator(bearer.JWTOptions{Issuer: "http://127.0.0.1:8080", Audience: jwtAudience}); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

// TestJWTCacheStopsAtExp: a verified token remembered in the cache is still
// refused once expired, and callers get their own copy of the principal.
func TestJWTCacheStopsAtExp(t *testing.T) {
	e := newJWTEnv(t)
	k := e.jwks.add(t, "k", jose.EdDSA)
	tok := sign(t, k, "at+jwt", e.claims())
	ctx := context.Background()
	p, err := e.v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Scopes[0] = "admin"
	p2, err := e.v.Validate(ctx, tok)
	if err != nil || p2.HasScope("admin") || !p2.HasScope("cards:read") {
		t.Fatalf("cached principal changed by a caller: %+v, %v", p2, err)
	}
	e.clock.Advance(5*time.Minute + bearer.DefaultLeeway + time.Second)
	if _, err := e.v.Validate(ctx, tok); !errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatalf("expired token from the cache: %v", err)
	}
}
