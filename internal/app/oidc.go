package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// idTokenSigner is what signs OpenID Connect ID tokens: the signing keys in
// the database. nil (no keys manager yet) leaves OpenID Connect off: the
// openid scope yields no ID token and discovery is not served.
//
// With the keys manager k it is
//
//	keySigner{sign: k.Sign, jwks: k.JWKS, algs: <k's algorithms>}
func (a *App) idTokenSigner() oauth.Signer {
	return nil
}

// keySigner adapts the signing keys to oauth.Signer: it signs with the
// keys manager and verifies against the keys the server publishes, so an
// id_token_hint signed by a key that has since rotated out of the JWKS is no
// longer accepted.
type keySigner struct {
	sign func(ctx context.Context, alg string, claims any, header map[string]any) (string, error)
	jwks func() jose.JSONWebKeySet
	algs []string
}

var _ oauth.Signer = keySigner{}

func (k keySigner) Sign(ctx context.Context, alg string, claims any, header map[string]any) (string, error) {
	return k.sign(ctx, alg, claims, header)
}

func (k keySigner) Algorithms() []string { return k.algs }

// Verify checks a compact JWS against the published keys. Only the
// algorithms the server signs with are parsed at all, so "none" and HMAC
// (an HS256 token "signed" with a public key) are refused before any key is
// looked at; the key is chosen by kid and must be of the header's algorithm.
func (k keySigner) Verify(_ context.Context, token string) ([]byte, error) {
	algs := make([]jose.SignatureAlgorithm, 0, len(k.algs))
	for _, a := range k.algs {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	jws, err := jose.ParseSigned(token, algs)
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("jws: exactly one signature expected")
	}
	h := jws.Signatures[0].Header
	set := k.jwks()
	for _, key := range set.Key(h.KeyID) {
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if payload, err := jws.Verify(key.Public().Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("jws: no published key verifies the signature")
}
