package app

import "github.com/gatehouse/gatehouse/internal/oauth"

// idTokenSigner is what signs OpenID Connect ID tokens: the signing keys in
// the database. Without them (the migrate command opens an App without
// keys) OpenID Connect is off: the openid scope yields no ID token and
// discovery is not served.
func (a *App) idTokenSigner() oauth.Signer {
	if a.Keys == nil {
		return nil // an untyped nil: a nil *keys.Manager would not compare equal to nil
	}
	return a.Keys
}
