package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// OpenID Connect endpoint paths, relative to the issuer.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathUserInfo  = "/oauth/userinfo"
	PathLogout    = "/oauth/logout"
	PathJWKS      = "/oauth/jwks"
)

// Authentication method references (RFC 8176 §2) the ID token's amr states.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"
	AMRMFA      = "mfa"
)

// DefaultIDTokenAlg is the ID token signing algorithm unless a client
// registered another. OpenID Connect Core §3.1.3.7: "The default alg value is
// RS256."
const DefaultIDTokenAlg = "RS256"

// ACR is the acr claim of every ID token. OpenID Connect Core §2: "an
// absolute URI or RFC 6711 registered name SHOULD be used"; "acr" value "0"
// means the authentication "does not meet the requirements of ISO/IEC 29115
// level 1" — Gatehouse does not claim an assurance level, and amr says which
// methods were used.
const ACR = "0"

// Signer signs the JSON Web Tokens the server issues (ID tokens) with the
// server's published keys and verifies the ones presented back to it
// (id_token_hint). The keys manager implements it.
type Signer interface {
	// Sign returns the compact JWS of payload, signed with the current key
	// for alg, with the key's kid and typ "JWT" in the header — never RFC
	// 9068's "at+jwt": an ID token must not pass for an access token.
	Sign(ctx context.Context, alg string, payload []byte) (string, error)
	// Verify checks a compact JWS against the keys the server publishes and
	// returns its payload. It checks the signature only, not the claims.
	Verify(ctx context.Context, token string) ([]byte, error)
	// Algorithms lists the algorithms Sign accepts.
	Algorithms() []string
}

// IDClaims are the ID token's claims (OpenID Connect Core §2), with the
// profile and email claims of §5.1 when their scope was granted.
type IDClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AZP      string   `json:"azp,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	CHash    string   `json:"c_hash,omitempty"`
	UserClaims
}

// UserClaims are the standard claims (OpenID Connect Core §5.1) the profile
// and email scopes release.
type UserClaims struct {
	Name          string `json:"name,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	UpdatedAt     int64  `json:"updated_at,omitempty"`
}

// emailVerified reports whether the user proved they receive mail at their
// address (the link sent at sign-up or on an address change was followed;
// accounts an operator created are vouched for). OpenID Connect Core §5.1
// "email_verified: True if the End-User's e-mail address has been verified;
// otherwise false." It is looked up only when the email scope was granted.
func (s *Service) emailVerified(ctx context.Context, userID string, scopes []string) (bool, error) {
	if !slices.Contains(scopes, scope.Email) {
		return false, nil
	}
	at, err := s.st.EmailVerifiedAt(ctx, userID)
	if err != nil {
		return false, err
	}
	return at != nil, nil
}

// userClaims releases the claims the granted scopes allow (OpenID Connect
// Core §5.4).
func userClaims(u *store.User, verified bool, scopes []string) UserClaims {
	var c UserClaims
	if slices.Contains(scopes, scope.Profile) {
		c.Name = u.Name
		c.UpdatedAt = u.UpdatedAt.Unix()
	}
	if slices.Contains(scopes, scope.Email) {
		v := verified
		c.Email, c.EmailVerified = u.Email, &v
	}
	return c
}

// isOIDC reports whether a request is an OpenID Connect one. OpenID Connect
// Core §3.1.2.1: "OpenID Connect requests MUST contain the openid scope
// value. If the openid scope value is not present, the behavior is entirely
// unspecified."
func isOIDC(scopes []string) bool { return slices.Contains(scopes, scope.OpenID) }

// mayRefresh reports whether tokens issued for scopes may include a refresh
// token. OpenID Connect Core §11: "the use of Refresh Tokens is not
// exclusively linked to offline_access" — but Gatehouse follows the spec's
// model for OpenID Connect requests: a refresh token (access while the user
// is not present) only when offline_access was requested and consented to.
// The consent page always lists offline_access, so a consent that includes it
// was given explicitly; prompt=consent is therefore not demanded as well.
func mayRefresh(c *store.Client, scopes []string) bool {
	if !hasGrantType(c, GrantRefreshToken) {
		return false
	}
	return !isOIDC(scopes) || slices.Contains(scopes, scope.OfflineAccess)
}

// amrFor derives the authentication methods of a signed-in user: a password
// always, and a one-time code when the account has two-factor sign-in on (a
// session of such an account is complete only once the code was given, and
// turning it on asks for a code too). Sessions do not record their own
// methods, so another browser's session opened before two-factor was turned
// on is reported with "otp" as well.
func amrFor(u *store.User) []string {
	if u.TOTPEnabled {
		return []string{AMRPassword, AMROTP, AMRMFA}
	}
	return []string{AMRPassword}
}

// halfHash is at_hash / c_hash. OpenID Connect Core §3.1.3.6: "Its value is
// the base64url encoding of the left-most half of the hash of the octets of
// the ASCII representation of the access_token value, where the hash
// algorithm used is the hash algorithm used in the alg Header Parameter of
// the ID Token's JOSE Header." For EdDSA (Ed25519) the hash is SHA-512.
func halfHash(alg, value string) (string, error) {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256", "PS256":
		h = sha256.New()
	case "RS384", "ES384", "PS384":
		h = sha512.New384()
	case "RS512", "ES512", "PS512", "EdDSA":
		h = sha512.New()
	default:
		return "", fmt.Errorf("oidc: no hash for alg %q", alg)
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// idTokenAlg is the algorithm of the client's ID tokens.
func (s *Service) idTokenAlg(ctx context.Context, clientID string) (string, error) {
	co, err := s.st.ClientOIDC(ctx, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return DefaultIDTokenAlg, nil
	case err != nil:
		return "", err
	case co.IDTokenAlg == "":
		return DefaultIDTokenAlg, nil
	}
	return co.IDTokenAlg, nil
}

// recordSignIn remembers how the user of a new OpenID Connect grant signed
// in, for the ID tokens minted from it later.
func (s *Service) recordSignIn(ctx context.Context, grantID string, u *store.User, authTime time.Time, nonce string) error {
	return s.st.CreateSignIn(ctx, &store.SignIn{
		GrantID: grantID, AuthTime: authTime.UTC().Truncate(time.Millisecond), AMR: amrFor(u), Nonce: nonce,
	})
}

// idTokenParams are what an ID token is minted from.
type idTokenParams struct {
	client      *store.Client
	userID      string
	grantID     string
	scopes      []string
	accessToken string // for at_hash ("" when none is issued with it)
	code        string // for c_hash (hybrid flow)
	// withNonce: the authorization request's nonce is included (code
	// redemption, hybrid); on refresh it is left out — OpenID Connect Core
	// §12.2 "If the ID Token contains a nonce Claim, ... its value ... MUST be
	// the same", and omitting it is allowed.
	withNonce bool
	now       time.Time
}

// mintIDToken builds and signs an ID token. OpenID Connect Core §3.1.3.3:
// the token response includes "id_token: ID Token value associated with the
// authenticated session."
func (s *Service) mintIDToken(ctx context.Context, p idTokenParams) (string, error) {
	if s.signer == nil {
		return "", errors.New("oidc: no signer configured")
	}
	u, err := s.st.UserByID(ctx, p.userID)
	if err != nil {
		return "", err
	}
	si, err := s.st.SignInByGrant(ctx, p.grantID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	alg, err := s.idTokenAlg(ctx, p.client.ID)
	if err != nil {
		return "", err
	}
	verified, err := s.emailVerified(ctx, u.ID, p.scopes)
	if err != nil {
		return "", err
	}
	sub, err := s.subjectFor(p.client, u.ID)
	if err != nil {
		return "", err
	}
	c := IDClaims{
		Issuer: s.issuer, Subject: sub, Audience: []string{p.client.ID},
		IssuedAt: p.now.Unix(), Expiry: p.now.Add(s.idTokenTTL).Unix(),
		ACR: ACR,
		// OpenID Connect Core §2, azp: "It MAY be included even when the
		// authorized party is the same as the sole audience."
		AZP:        p.client.ID,
		UserClaims: userClaims(u, verified, p.scopes),
	}
	if si != nil {
		// §2 auth_time: "when a max_age request is made or when auth_time
		// is requested as an Essential Claim, then this Claim is REQUIRED;
		// otherwise, its inclusion is OPTIONAL." Always included.
		c.AuthTime, c.AMR = si.AuthTime.Unix(), si.AMR
		if p.withNonce {
			c.Nonce = si.Nonce
		}
	}
	if p.accessToken != "" {
		if c.AtHash, err = halfHash(alg, p.accessToken); err != nil {
			return "", err
		}
	}
	if p.code != "" {
		if c.CHash, err = halfHash(alg, p.code); err != nil {
			return "", err
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return s.signer.Sign(ctx, alg, payload)
}

// HintSubject validates an id_token_hint and returns its subject: the sub
// as the client in aud was shown it, which for a pairwise client is not the
// user's id (compare with hintMatches, never directly).
// OpenID Connect Core §3.1.2.1: "ID Token previously issued by the
// Authorization Server being passed as a hint about the End-User's current
// or past authenticated session with the Client." An expired token is still
// a valid hint ("the ID Token need not be unexpired"), but it must carry
// this server's signature and issuer.
func (s *Service) HintSubject(ctx context.Context, hint string) (sub string, aud []string, err error) {
	if s.signer == nil {
		return "", nil, errors.New("id_token_hint cannot be checked: no signing keys")
	}
	payload, err := s.signer.Verify(ctx, hint)
	if err != nil {
		return "", nil, fmt.Errorf("id_token_hint: %w", err)
	}
	var c struct {
		Issuer   string          `json:"iss"`
		Subject  string          `json:"sub"`
		Audience json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", nil, fmt.Errorf("id_token_hint: %w", err)
	}
	if c.Issuer != s.issuer || c.Subject == "" {
		return "", nil, errors.New("id_token_hint was not issued by this server")
	}
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		aud = []string{one}
	} else if err := json.Unmarshal(c.Audience, &aud); err != nil {
		return "", nil, errors.New("id_token_hint: aud is malformed")
	}
	return c.Subject, aud, nil
}

// validateClientOIDC checks a new client's OpenID Connect registration; nil
// when it registers nothing.
func (s *Service) validateClientOIDC(c *store.Client, nc NewClient) (*store.ClientOIDC, error) {
	if len(nc.PostLogoutRedirectURIs) == 0 && nc.IDTokenAlg == "" {
		return nil, nil
	}
	var errs []error
	if c.ResourceServer != "" {
		errs = append(errs, errors.New("a resource server takes no post-logout redirect URIs or ID token algorithm"))
	}
	for _, u := range nc.PostLogoutRedirectURIs {
		// RP-Initiated Logout §3: the URIs are registered like redirect
		// URIs and compared by exact match.
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post-logout redirect URI: %w", err))
		}
	}
	if nc.IDTokenAlg != "" {
		algs := []string{DefaultIDTokenAlg}
		if s.signer != nil {
			algs = s.signer.Algorithms()
		}
		if !slices.Contains(algs, nc.IDTokenAlg) {
			errs = append(errs, fmt.Errorf("ID token algorithm %q is not available (%v)", nc.IDTokenAlg, algs))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &store.ClientOIDC{ClientID: c.ID, PostLogoutRedirectURIs: slices.Clone(nc.PostLogoutRedirectURIs), IDTokenAlg: nc.IDTokenAlg}, nil
}

// OpenID Connect response types that return an ID token from the
// authorization endpoint (OAuth 2.0 Multiple Response Type Encoding
// Practices §5), in the normalized order.
const (
	ResponseCodeIDToken  = "code id_token"
	ResponseIDTokenToken = "id_token token"
)

// normalizeResponseType puts the space-separated values of a multi-valued
// response type in a fixed order: Multiple Response Type Encoding Practices
// §3 "The order in which these individual response type values appear in
// the response_type parameter is not significant". Any other value is
// returned as is (and refused later).
func normalizeResponseType(rt string) string {
	f := strings.Fields(rt)
	if len(f) != 2 || strings.Join(f, " ") != strings.TrimSpace(rt) {
		return rt
	}
	slices.Sort(f)
	switch j := strings.Join(f, " "); j {
	case ResponseCodeIDToken, ResponseIDTokenToken:
		return j
	}
	return rt
}
