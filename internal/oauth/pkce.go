package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// PKCE (RFC 7636). Gatehouse accepts only the S256 method: RFC 9700 §2.1.1
// "Authorization servers MUST support PKCE" and "the transformation method
// plain ... SHOULD NOT be used"; the issue forbids it outright.
const (
	PKCEMethodS256  = "S256"
	PKCEMethodPlain = "plain"
)

// ValidateCodeChallenge checks the code_challenge / code_challenge_method of an
// authorization request. RFC 7636 §4.3: code_challenge_method "defaults to
// "plain" if not present in the request", so a challenge without a method is
// a plain challenge and refused.
//
// An S256 challenge is BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))
// (RFC 7636 §4.2) without padding: exactly 43 characters of the base64url
// alphabet.
func ValidateCodeChallenge(challenge, method string) error {
	if challenge == "" {
		if method != "" {
			return errors.New("code_challenge_method without code_challenge")
		}
		return errors.New("code_challenge is required")
	}
	switch method {
	case PKCEMethodS256:
	case "", PKCEMethodPlain:
		return errors.New("code_challenge_method must be S256; plain is not supported")
	default:
		return errors.New("unsupported code_challenge_method; use S256")
	}
	if len(challenge) != 43 {
		return errors.New("code_challenge must be 43 characters of base64url (S256)")
	}
	for i := 0; i < len(challenge); i++ {
		if !isBase64URL(challenge[i]) {
			return errors.New("code_challenge must be base64url without padding")
		}
	}
	return nil
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ValidateCodeVerifier checks the verifier's syntax. RFC 7636 §4.1:
// code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." /
// "_" / "~".
func ValidateCodeVerifier(verifier string) error {
	if len(verifier) < 43 || len(verifier) > 128 {
		return errors.New("code_verifier must be 43 to 128 characters")
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return errors.New("code_verifier contains characters outside [A-Za-z0-9-._~]")
		}
	}
	return nil
}

// S256Challenge computes the S256 challenge of a verifier.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyPKCE checks a token request's code_verifier against the challenge
// stored with the code. RFC 7636 §4.6: "If the "code_challenge_method" from
// Section 4.3 was "S256", the received "code_verifier" is hashed by SHA-256,
// base64url-encoded, and then compared to the "code_challenge", i.e.:
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge". The
// comparison is constant time.
//
// RFC 9700 §2.1.1 closes the downgrade: "Authorization servers MUST mitigate
// PKCE Downgrade Attacks by ensuring that a token request containing a
// code_verifier parameter is accepted only if a code_challenge parameter was
// present in the authorization request".
func VerifyPKCE(verifier, challenge, method string) error {
	if challenge == "" {
		if verifier != "" {
			return errors.New("code_verifier sent but the authorization request had no code_challenge")
		}
		return nil
	}
	if verifier == "" {
		return errors.New("code_verifier is required")
	}
	if method != PKCEMethodS256 {
		return errors.New("unsupported code_challenge_method")
	}
	if err := ValidateCodeVerifier(verifier); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(S256Challenge(verifier)), []byte(challenge)) != 1 {
		return errors.New("code_verifier does not match the code_challenge")
	}
	return nil
}
