package oauth_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// rsaSigner is an RS256 oauth.Signer over one key, standing in for the keys
// manager; jwksArea publishes its key at /oauth/jwks.
type rsaSigner struct{ key *rsa.PrivateKey }

const testKID = "test-rs256"

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func testSigner(testing.TB) *rsaSigner { return &rsaSigner{key: testKey()} }

var b64 = base64.RawURLEncoding

func (s *rsaSigner) Sign(_ context.Context, alg string, payload []byte) (string, error) {
	if alg != "RS256" {
		return "", errors.New("test signer: RS256 only")
	}
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": testKID, "typ": "JWT"})
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return in + "." + b64.EncodeToString(sig), nil
}

func (s *rsaSigner) Verify(_ context.Context, token string) ([]byte, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, err
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "RS256" || h.Kid != testKID {
		return nil, errors.New("unknown key or algorithm")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, err
	}
	return b64.DecodeString(parts[1])
}

func (s *rsaSigner) Algorithms() []string { return []string{"RS256"} }

type jwksArea struct{}

func (jwksArea) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/jwks", func(w http.ResponseWriter, r *http.Request) {
		pub := testKey().PublicKey
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": testKID, "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
}

// keysArea publishes the signing keys of the store.
type keysArea struct{ m *keys.Manager }

func (k keysArea) Routes(mux *http.ServeMux) { mux.Handle("GET /oauth/jwks", k.m) }
