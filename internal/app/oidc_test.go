package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// testKeys signs with go-jose over keys made here, standing in for the keys
// manager.
func testKeys(t *testing.T) (keySigner, map[string]any) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	priv := map[string]any{"RS256": rsaKey, "ES256": ecKey, "EdDSA": edKey}
	var set jose.JSONWebKeySet
	for alg, k := range priv {
		jwk := jose.JSONWebKey{Key: k, KeyID: "kid-" + alg, Algorithm: alg, Use: "sig"}
		set.Keys = append(set.Keys, jwk.Public())
	}
	sign := func(_ context.Context, alg string, claims any, header map[string]any) (string, error) {
		opts := (&jose.SignerOptions{}).WithHeader("kid", "kid-"+alg)
		for k, v := range header {
			opts = opts.WithHeader(jose.HeaderKey(k), v)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: priv[alg]}, opts)
		if err != nil {
			return "", err
		}
		b, _ := json.Marshal(claims)
		obj, err := s.Sign(b)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	}
	return keySigner{sign: sign, jwks: func() jose.JSONWebKeySet { return set }, algs: []string{"RS256", "ES256", "EdDSA"}}, priv
}

func TestKeySignerVerify(t *testing.T) {
	ks, _ := testKeys(t)
	ctx := context.Background()
	claims := map[string]any{"iss": "https://id.example", "sub": "u1"}
	for _, alg := range ks.algs {
		tok, err := ks.Sign(ctx, alg, claims, map[string]any{"typ": "JWT"})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := ks.Verify(ctx, tok)
		if err != nil || !strings.Contains(string(payload), `"sub":"u1"`) {
			t.Errorf("%s: %s %v", alg, payload, err)
		}
		// A changed payload fails.
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://id.example","sub":"admin"}`)) + "." + parts[2]
		if _, err := ks.Verify(ctx, forged); err == nil {
			t.Errorf("%s: forged payload verified", alg)
		}
	}
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	body := enc(claims)
	// alg none: refused.
	if _, err := ks.Verify(ctx, enc(map[string]string{"alg": "none", "kid": "kid-RS256"})+"."+body+"."); err == nil {
		t.Error("alg none verified")
	}
	// HS256 "signed" with the public key's bytes: refused.
	if _, err := ks.Verify(ctx, enc(map[string]string{"alg": "HS256", "kid": "kid-RS256"})+"."+body+".c2ln"); err == nil {
		t.Error("HS256 verified")
	}
	// Unknown kid, or a key of another algorithm under the kid: refused.
	tok, _ := ks.Sign(ctx, "ES256", claims, nil)
	parts := strings.Split(tok, ".")
	for _, h := range []map[string]string{{"alg": "ES256", "kid": "kid-unknown"}, {"alg": "ES256", "kid": "kid-RS256"}} {
		if _, err := ks.Verify(ctx, enc(h)+"."+parts[1]+"."+parts[2]); err == nil {
			t.Errorf("header %v verified", h)
		}
	}
	// Another server's key: refused.
	other, _ := testKeys(t)
	tok, _ = other.Sign(ctx, "RS256", claims, nil)
	if _, err := ks.Verify(ctx, tok); err == nil {
		t.Error("a token of another key set verified")
	}
}
