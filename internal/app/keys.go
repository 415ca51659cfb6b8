package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// idTokenTTLBound is the longest an ID token lives; a retired signing key
// stays published until every token it signed has expired, so the bound
// covers ID tokens as well as access tokens.
const idTokenTTLBound = time.Hour

// buildKeys loads the signing keys (creating the first ones on a new
// database). It runs after the schema check: the migrate command, which
// opens an App on a database that may not have the table yet, skips it.
func (a *App) buildKeys(ctx context.Context) error {
	maxTTL := max(a.Config.AccessTokenTTL, idTokenTTLBound)
	// Clocks of relying parties drift; keep the key a few minutes longer
	// than the token it signed.
	maxTTL += 5 * time.Minute
	m, err := keys.New(ctx, a.Store, a.Box, a.Now, a.Rand, a.Log, keys.Config{
		Algorithms:   a.Config.SigningAlgorithms,
		Rotation:     a.Config.SigningKeyRotation,
		PublishAhead: a.Config.SigningKeyPublishAhead,
		MaxTokenTTL:  maxTTL,
		Reload:       a.Config.SigningKeyReload,
	})
	if err != nil {
		return err
	}
	if !slices.Contains(m.Algorithms(), a.Config.JWTAccessTokenAlg) {
		return fmt.Errorf("jwt_access_token_alg %q is not one of signing_algorithms %v", a.Config.JWTAccessTokenAlg, m.Algorithms())
	}
	a.Keys = m
	return nil
}

// jwtSigner is what signs JWT access tokens: the keys manager, or nothing
// (an App opened for the migrate command).
func (a *App) jwtSigner() oauth.JWTSigner {
	if a.Keys == nil {
		return nil
	}
	return a.Keys
}

// jwksArea serves the public signing keys at /oauth/jwks.
type jwksArea struct{ m *keys.Manager }

func (j jwksArea) Routes(mux *http.ServeMux) {
	if j.m != nil {
		mux.Handle("GET "+oauth.PathJWKS, j.m)
	}
}
