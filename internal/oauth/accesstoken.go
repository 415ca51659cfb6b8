package oauth

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Access token formats. Opaque tokens are random strings looked up on every
// use; JWT access tokens (RFC 9068) are signed, so a resource server can
// validate them without calling Gatehouse — at the price that a revoked JWT
// still verifies until it expires unless the resource server introspects.
// Gatehouse bounds that window by giving JWTs a short lifetime.
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
)

// DefaultJWTAccessTokenTTL is how long a JWT access token lives unless
// configured otherwise: the longest a revoked one still verifies offline.
const DefaultJWTAccessTokenTTL = 5 * time.Minute

// JWTSigner signs and verifies the server's JSON Web Tokens (the keys
// manager, internal/keys).
type JWTSigner interface {
	SignTyped(ctx context.Context, alg, typ string, payload []byte) (string, error)
	VerifyTyped(ctx context.Context, token string) (payload []byte, typ string, err error)
}

// AccessTokenStrategy is the seam every access token is minted through: the
// opaque strategy and the JWT strategy. Both store a record, so
// introspection, revocation and the token family rules treat them alike;
// each strategy decides the key the record is found under (see
// accessRecordKey).
type AccessTokenStrategy interface {
	// Mint returns the access token the client is given for record (whose
	// ID, scopes, audience and times are set), and its lifetime, which may
	// be shorter than the one asked for. It sets record.Hash, the key the
	// record is found under.
	Mint(ctx context.Context, c *store.Client, record *store.Token) (token string, ttl time.Duration, err error)
}

// opaqueStrategy mints random, prefixed secrets (internal/credential),
// recorded under their keyed hash.
type opaqueStrategy struct{ s *Service }

func (o opaqueStrategy) Mint(_ context.Context, _ *store.Client, r *store.Token) (string, time.Duration, error) {
	tok, err := credential.Generate(o.s.rand, credential.AccessToken, o.s.env)
	if err != nil {
		return "", 0, err
	}
	r.Hash = o.s.hasher.Hash(tok)
	return tok, r.ExpiresAt.Sub(r.CreatedAt), nil
}

// jwtRecordKey is the key a JWT access token's record is stored under: its
// jti, which is the record's time-ordered ID. A JWT is only looked up after
// its signature verified, so the key needs no secret in it; and because ids
// are time-ordered, recording a JWT appends to the end of the tokens index
// instead of dirtying a random page of it, as a keyed hash would — on SQLite
// that halves the cost of storing the token (BenchmarkIssue in
// internal/store/sqlite). The prefix keeps it apart from the hex keyed
// hashes of opaque credentials.
func jwtRecordKey(jti string) string { return "jwt:" + jti }

// jwtStrategy mints RFC 9068 JWT access tokens.
type jwtStrategy struct {
	s      *Service
	signer JWTSigner
	alg    string
	maxTTL time.Duration
}

// jwtAccessClaims are the claims of RFC 9068 §2.2.
type jwtAccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	JTI      string   `json:"jti"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	AuthTime int64    `json:"auth_time,omitempty"`
}

func (j jwtStrategy) Mint(ctx context.Context, c *store.Client, r *store.Token) (string, time.Duration, error) {
	ttl := r.ExpiresAt.Sub(r.CreatedAt)
	if ttl > j.maxTTL {
		ttl = j.maxTTL
		r.ExpiresAt = r.CreatedAt.Add(ttl)
	}
	// RFC 9068 §2.2: "In cases of access tokens obtained through grants
	// where no resource owner is involved, such as the client credentials
	// grant, the value of sub SHOULD correspond to an identifier the
	// authorization server uses to indicate the client application."
	sub := c.ID
	if r.GrantID != "" {
		// The user as this client knows them: pairwise for a pairwise
		// client, like its ID tokens.
		var err error
		if sub, err = j.s.subjectFor(c, r.UserID); err != nil {
			return "", 0, err
		}
	}
	// RFC 9068 §2.2 makes aud REQUIRED. A token without an explicit
	// audience is meant for Gatehouse's own API (and every API whose
	// scopes it carries): its audience is the issuer.
	aud := r.Audience
	if len(aud) == 0 {
		aud = []string{j.s.issuer}
	}
	payload, err := json.Marshal(jwtAccessClaims{
		Issuer: j.s.issuer, Subject: sub, Audience: aud, ClientID: c.ID, Scope: scope.Format(r.Scopes),
		JTI: r.ID, IssuedAt: r.CreatedAt.Unix(), Expiry: r.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", 0, err
	}
	// RFC 9068 §2.1: "Resource servers MUST verify that the typ header
	// value is at+jwt", which keeps an ID token from passing as one.
	tok, err := j.signer.SignTyped(ctx, j.alg, "at+jwt", payload)
	if err != nil {
		return "", 0, err
	}
	r.Hash = jwtRecordKey(r.ID)
	return tok, ttl, nil
}

// strategyFor picks the access token format for client c's token meant for
// aud. Precedence: an API that sets token_format decides for tokens meant
// for it (the resource server knows what it can validate); otherwise the
// client's access_token_format; otherwise the server-wide
// access_token_format. A token for several APIs is a JWT only when every
// one of them comes out as JWT.
func (s *Service) strategyFor(c *store.Client, aud []string) AccessTokenStrategy {
	if s.jwtStrategy == nil {
		return s.opaque
	}
	fallback := s.accessFormat
	if c != nil && c.AccessTokenFormat != "" {
		fallback = c.AccessTokenFormat
	}
	format := fallback
	if len(aud) > 0 {
		format = FormatJWT
		for _, a := range aud {
			api, ok := s.apis[a]
			f := api.TokenFormat
			if !ok || f == "" {
				f = fallback
			}
			if f != FormatJWT {
				format = FormatOpaque
			}
		}
	}
	if format == FormatJWT {
		return s.jwtStrategy
	}
	return s.opaque
}

// looksLikeJWT reports whether a presented token has the compact JWS shape;
// Gatehouse's own credentials never contain a dot.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// accessRecordKey is the key the record of a presented access token is
// found under, the one rule validation, introspection and revocation share:
// an opaque token's keyed hash, or for a JWT (checked offline first) the key
// of its jti. A presented token that cannot be one of ours is an
// invalid_token error.
func (s *Service) accessRecordKey(ctx context.Context, raw string) (string, *Error) {
	if looksLikeJWT(raw) {
		jti, e := s.verifyJWTAccessToken(ctx, raw)
		if e != nil {
			return "", e
		}
		return jwtRecordKey(jti), nil
	}
	if !s.parseSecret(raw, credential.AccessToken) {
		return "", ErrInvalidToken("the access token is malformed")
	}
	return s.hasher.Hash(raw), nil
}

// verifyJWTAccessToken checks a JWT access token's signature, type, issuer
// and expiry offline (RFC 9068 §4) and returns its jti. The caller then
// looks up its record for revocation.
func (s *Service) verifyJWTAccessToken(ctx context.Context, raw string) (jti string, _ *Error) {
	if s.jwtStrategy == nil {
		return "", ErrInvalidToken("the access token is malformed")
	}
	payload, typ, err := s.jwtStrategy.signer.VerifyTyped(ctx, raw)
	if err != nil {
		return "", ErrInvalidToken("the access token's signature does not verify")
	}
	// RFC 9068 §4: "Resource servers MUST verify that the typ header value
	// is at+jwt or application/at+jwt and reject tokens carrying any other
	// type value."
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return "", ErrInvalidToken("the token is not an access token (typ %q): an ID token is never accepted as one", typ)
	}
	var cl jwtAccessClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return "", ErrInvalidToken("the access token's claims are malformed")
	}
	if cl.Issuer != s.issuer {
		return "", ErrInvalidToken("the access token was issued by another server")
	}
	if !s.time().Before(time.Unix(cl.Expiry, 0)) {
		return "", ErrInvalidToken("the access token has expired")
	}
	if cl.JTI == "" {
		return "", ErrInvalidToken("the access token has no jti")
	}
	return cl.JTI, nil
}
