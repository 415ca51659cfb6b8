package oauth

import (
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/safetext"
)

// Client authentication methods (RFC 8414 token_endpoint_auth_methods_supported).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none" // public clients: client_id only, PKCE protects the code
)

// ClientCredentials is what a request to the token, introspection or
// revocation endpoint presented to identify its client. Nothing is verified
// yet.
type ClientCredentials struct {
	ID     string
	Secret string
	Method string // AuthMethodBasic, AuthMethodPost or AuthMethodNone
}

// ParseBasicAuth decodes an "Authorization: Basic" header value. RFC 6749
// §2.3.1: "The client identifier is encoded using the
// "application/x-www-form-urlencoded" encoding algorithm per Appendix B, and
// the encoded value is used as the username; the client password is encoded
// using the same algorithm and used as the password." So after base64 both
// halves are form-urldecoded ("+" is a space, "%3A" a colon). ok is false
// when the header is not a Basic header at all.
func ParseBasicAuth(header string) (id, secret string, ok bool, err *Error) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	raw, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if decErr != nil {
		return "", "", true, ErrInvalidClient("malformed Basic authorization header")
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", true, ErrInvalidClient("malformed Basic authorization header")
	}
	id, e1 := url.QueryUnescape(user)
	secret, e2 := url.QueryUnescape(pass)
	if e1 != nil || e2 != nil {
		return "", "", true, ErrInvalidClient("Basic credentials must be form-urlencoded (RFC 6749 §2.3.1)")
	}
	if id == "" {
		return "", "", true, ErrInvalidClient("empty client_id in Basic authorization header")
	}
	// Refused like any unknown client, before the id is looked up.
	if safetext.Check(id, MaxParamLen) != nil || safetext.Check(secret, MaxParamLen) != nil {
		return "", "", true, ErrInvalidClient("the Basic credentials are not valid text")
	}
	return id, secret, true, nil
}

// ParseClientCredentials extracts the client's credentials from the
// Authorization header and the form body of a token, introspection or
// revocation request. It only parses; Service.AuthenticateClient verifies.
//
// RFC 6749 §2.3: "The client MUST NOT use more than one authentication
// method in each request." A Basic header together with a client_secret in
// the body is refused as invalid_client. RFC 6749 §2.3.1 puts client_secret
// in the body only: "The parameters can only be transmitted in the
// request-body and MUST NOT be included in the request URI" — callers pass
// r.PostForm, never r.Form.
func ParseClientCredentials(authorization string, body url.Values) (ClientCredentials, *Error) {
	formID, formSecret := body.Get("client_id"), body.Get("client_secret")
	_, secretSent := body["client_secret"]
	if authorization != "" {
		id, secret, ok, err := ParseBasicAuth(authorization)
		if err != nil {
			return ClientCredentials{}, err
		}
		if !ok {
			return ClientCredentials{}, ErrInvalidClient("unsupported authorization scheme; use HTTP Basic (client_secret_basic)")
		}
		if secretSent {
			return ClientCredentials{}, ErrInvalidClient("client authenticated with both HTTP Basic and client_secret in the body; use one method (RFC 6749 §2.3)")
		}
		if formID != "" && formID != id {
			return ClientCredentials{}, ErrInvalidClient("client_id in the body differs from the HTTP Basic username")
		}
		return ClientCredentials{ID: id, Secret: secret, Method: AuthMethodBasic}, nil
	}
	if formID == "" {
		if secretSent {
			return ClientCredentials{}, ErrInvalidClient("client_secret without client_id")
		}
		return ClientCredentials{}, ErrInvalidClient("client authentication is required (HTTP Basic, client_secret_post, or client_id for public clients)")
	}
	if secretSent {
		return ClientCredentials{ID: formID, Secret: formSecret, Method: AuthMethodPost}, nil
	}
	return ClientCredentials{ID: formID, Method: AuthMethodNone}, nil
}
