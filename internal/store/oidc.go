package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------- OpenID Connect

// SignIn is how the user of a grant signed in, recorded when the grant is
// created: the ID tokens minted from the grant (at code redemption and on
// refresh) state it.
type SignIn struct {
	GrantID  string
	AuthTime time.Time
	// AMR lists the authentication methods (RFC 8176 values: "pwd", "otp",
	// "mfa").
	AMR []string
	// Nonce is the authorization request's nonce ("" when none was sent).
	Nonce string
}

// ClientOIDC is a client's OpenID Connect registration.
type ClientOIDC struct {
	ClientID string
	// PostLogoutRedirectURIs are where RP-initiated logout may return the
	// browser to (exact match).
	PostLogoutRedirectURIs []string
	// IDTokenAlg is id_token_signed_response_alg ("" for the default,
	// RS256).
	IDTokenAlg string
}

// OIDC persists OpenID Connect records.
type OIDC interface {
	// CreateSignIn records how a grant's user signed in; ErrConflict when
	// the grant has one already.
	CreateSignIn(ctx context.Context, s *SignIn) error
	// SignInByGrant returns the grant's sign-in; ErrNotFound when none was
	// recorded (a grant from before OpenID Connect, or client_credentials).
	SignInByGrant(ctx context.Context, grantID string) (*SignIn, error)
	// PutClientOIDC creates or replaces the client's registration.
	PutClientOIDC(ctx context.Context, c *ClientOIDC) error
	// ClientOIDC returns the client's registration; ErrNotFound when the
	// client registered none.
	ClientOIDC(ctx context.Context, clientID string) (*ClientOIDC, error)
}
