package oauth

import (
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/scope"
)

// Endpoint paths, relative to the issuer.
const (
	PathAuthorize  = "/oauth2/authorize"
	PathToken      = "/oauth2/token"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathMetadata   = "/.well-known/oauth-authorization-server"
	PathApps       = "/account/apps"
)

// Metadata is the RFC 8414 §2 authorization server metadata.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
}

// Metadata describes this server. RFC 8414 §3.3: "The "issuer" value
// returned MUST be identical to the authorization server's issuer identifier
// value into which the well-known URI string was inserted".
func (s *Service) Metadata() Metadata {
	// RFC 8414 §2: jwks_uri is the "URL of the authorization server's JWK
	// Set document"; advertised when the server signs tokens.
	var jwks string
	if s.signer != nil || s.jwtStrategy != nil {
		jwks = s.issuer + PathJWKS
	}
	return Metadata{
		JWKSURI:                                jwks,
		Issuer:                                 s.issuer,
		AuthorizationEndpoint:                  s.issuer + PathAuthorize,
		TokenEndpoint:                          s.issuer + PathToken,
		RevocationEndpoint:                     s.issuer + PathRevoke,
		IntrospectionEndpoint:                  s.issuer + PathIntrospect,
		ScopesSupported:                        oauthScopes(s.catalog()),
		ResponseTypesSupported:                 []string{"code", "token", ResponseCodeIDToken, ResponseIDTokenToken},
		ResponseModesSupported:                 []string{"query", "fragment"},
		GrantTypesSupported:                    GrantTypes(),
		TokenEndpointAuthMethodsSupported:      []string{AuthMethodBasic, AuthMethodPost, AuthMethodNone},
		RevocationEndpointAuthMethodsSupported: []string{AuthMethodBasic, AuthMethodPost, AuthMethodNone},
		// Introspection needs a secret (RFC 7662 §2.1).
		IntrospectionEndpointAuthMethodsSupported:  []string{AuthMethodBasic, AuthMethodPost},
		CodeChallengeMethodsSupported:              []string{PKCEMethodS256},
		AuthorizationResponseIssParameterSupported: true,
		PromptValuesSupported:                      []string{PromptNone, PromptLogin, PromptConsent},
	}
}

// metadataPaths returns where the metadata is served. RFC 8414 §3: "If the
// issuer identifier value contains a path component, any terminating "/"
// MUST be removed before inserting "/.well-known/" and the well-known URI
// suffix between the host component and the path component." The plain
// path is served as well for clients that append it to the issuer.
func metadataPaths(issuer string) []string {
	paths := []string{PathMetadata}
	if u, err := url.Parse(issuer); err == nil {
		if p := strings.TrimSuffix(u.EscapedPath(), "/"); p != "" {
			paths = append(paths, PathMetadata+p)
		}
	}
	return paths
}

// oauthScopes lists the scopes a client can obtain here: an
// administrator-only scope is carried by personal access tokens alone, so
// advertising it to clients would only invite requests that are refused.
func oauthScopes(cat *scope.Catalog) []string {
	var out []string
	for _, sc := range cat.All() {
		if !sc.AdminOnly {
			out = append(out, sc.Name)
		}
	}
	return out
}
