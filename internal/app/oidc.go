package app

import (
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secret"
)

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

// derivePairwiseKey is the key of pairwise subject identifiers (OpenID
// Connect Core §8.1). It comes from the master key, so every replica and
// every restart computes the same sub for a user and sector; changing the
// master key would change every pairwise sub, which is one more reason the
// master key never changes (see VerifyMasterKey).
func derivePairwiseKey(master []byte) ([]byte, error) {
	return secret.Derive(master, "pairwise-subject-v1")
}
