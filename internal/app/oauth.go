package app

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// buildOAuth wires issue 4: the OAuth 2.0 authorization server. Its access
// tokens are accepted as bearer tokens by the API (a.Authn), and its pages
// (consent, errors, authorized apps) are drawn by the account pages.
func (a *App) buildOAuth() error {
	var err error
	a.OAuth, err = oauth.NewService(oauth.Options{
		Issuer: a.Config.Issuer, Env: a.credentialEnv(), Store: a.Store, Hasher: a.Hasher, Clock: a.Now, Random: a.Rand, Logger: a.Log, Audit: a.Audit, Activity: a.Activity,
		AccessTokenTTL: a.Config.AccessTokenTTL, RefreshTokenTTL: a.Config.RefreshTokenTTL,
		ClientCacheTTL: a.Config.ClientCacheTTL,
		APIs:           apis(a.Config.Sections.APIs),
		// Introspection validates every credential kind with the API's own
		// validators.
		Credentials: a.Authn,
		Scopes:      a.Scopes,
		Signer:      a.idTokenSigner(),
		PairwiseKey: a.pairwiseKey,
		// Access tokens are opaque unless access_token_format or an API's
		// token_format asks for RFC 9068 JWTs.
		JWT:               a.jwtSigner(),
		AccessTokenFormat: a.Config.AccessTokenFormat,
		JWTAccessTokenAlg: a.Config.JWTAccessTokenAlg,
		JWTAccessTokenTTL: a.Config.JWTAccessTokenTTL,
		OnEvent:           a.onOAuthEvent, // webhooks.go
	})
	if err != nil {
		return err
	}
	a.Authn.RegisterBearer(credential.AccessToken, a.OAuth)
	// JWT access tokens are not Gatehouse-prefixed credentials: every
	// bearer token that is not one goes to the OAuth service, which
	// accepts only a signed at+jwt it issued and has not revoked.
	a.Authn.RegisterFallback(a.OAuth)
	return nil
}

// apis converts the configuration's `apis` section for the OAuth service,
// which validates it.
func apis(specs []config.APISpec) []oauth.API {
	out := make([]oauth.API, 0, len(specs))
	for _, s := range specs {
		out = append(out, oauth.API{Identifier: s.Identifier, Name: s.Name, Scopes: s.Scopes, TokenFormat: s.TokenFormat})
	}
	return out
}

// oauthArea is the OAuth endpoints and the authorized-apps pages.
func (a *App) oauthArea() *oauth.Handler {
	return oauth.NewHandler(a.OAuth, a.Accounts.OAuthUI(), a.Log)
}

// appNames gives the sign-in pages the name of the app a return URL leads
// to. The pages are built before the OAuth service (which needs their
// authenticator), so the service is looked up when a page asks.
type appNames struct{ a *App }

func (n appNames) AppName(ctx context.Context, returnTo string) string {
	if n.a.OAuth == nil {
		return ""
	}
	return n.a.OAuth.AppNameFor(ctx, returnTo)
}
