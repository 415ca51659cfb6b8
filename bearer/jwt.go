package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults of JWTOptions.
const (
	DefaultJWKSRefreshInterval = 30 * time.Second
	DefaultLeeway              = 30 * time.Second
)

// jwtAlgorithms are the only signature algorithms accepted. RFC 9068 §4:
// "The resource server MUST validate the signature of all incoming JWT
// access tokens according to [RFC7515] using the algorithm specified in the
// JWT 'alg' Header Parameter. The resource server MUST reject any JWT in
// which the value of 'alg' is 'none'." Symmetric algorithms are excluded
// too: with HS256 an attacker could sign with the public key's bytes.
var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// JWTOptions configure a JWTValidator. Issuer and Audience are required.
type JWTOptions struct {
	// Issuer is the authorization server's issuer identifier; the token's
	// "iss" must equal it exactly.
	Issuer string
	// Audience is this resource server's identifier; the token's "aud" must
	// contain it.
	Audience string
	// JWKSURL is where the signing keys are published. Default
	// Issuer + "/oauth/jwks". It must be https except on a loopback host or
	// with AllowInsecureHTTP.
	JWKSURL string
	// Fallback validates credentials that are not JWTs (opaque tokens, PATs,
	// API keys), typically an Introspector. Nil: they are refused.
	Fallback Validator
	// HTTPClient fetches the JWKS. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds one JWKS fetch. Default DefaultTimeout.
	Timeout time.Duration
	// RefreshInterval is the least time between two JWKS fetches triggered
	// by an unknown "kid", so a flood of forged kids cannot turn into a
	// flood of fetches. Default DefaultJWKSRefreshInterval.
	RefreshInterval time.Duration
	// Leeway tolerates clock skew on "exp", "nbf" and "iat". Default
	// DefaultLeeway.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// AllowInsecureHTTP permits a plain-http JWKSURL on a non-loopback host.
	AllowInsecureHTTP bool
	// CacheSize bounds the number of verified tokens remembered (until
	// their "exp"), so a token presented again skips the signature check.
	// Default DefaultCacheSize; negative turns the cache off.
	CacheSize int
}

// JWTValidator is a Validator that checks JWT access tokens (RFC 9068)
// locally against the issuer's published keys, with no call per request,
// and hands any other credential to a fallback Validator.
//
// Trade-off: a JWT checked offline stays valid until its "exp" even if it
// was revoked — the resource server cannot see revocation. Gatehouse keeps
// JWT access tokens short-lived (jwt_access_token_ttl, 5 minutes by
// default); where revocation must take effect at once, issue opaque tokens
// or validate with an Introspector instead.
//
// It is safe for concurrent use.
type JWTValidator struct {
	issuer, audience string
	jwksURL          string
	fallback         Validator
	client           *http.Client
	timeout          time.Duration
	interval         time.Duration
	leeway           time.Duration
	now              func() time.Time
	verified         *cache // nil when off; keyed by the token's SHA-256

	mu        sync.RWMutex // guards keys and lastFetch; held during a fetch
	keys      *jose.JSONWebKeySet
	lastFetch time.Time
}

// NewJWTValidator checks o and returns a JWTValidator. It does not fetch the
// keys until the first token arrives.
func NewJWTValidator(o JWTOptions) (*JWTValidator, error) {
	if o.Issuer == "" {
		return nil, errors.New("bearer: the issuer is required to validate JWTs")
	}
	if o.Audience == "" {
		return nil, errors.New("bearer: the audience (this resource server's identifier) is required to validate JWTs")
	}
	raw := o.JWKSURL
	if raw == "" {
		raw = strings.TrimSuffix(o.Issuer, "/") + "/oauth/jwks"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("bearer: JWKS URL %q is not an absolute http(s) URL", raw)
	}
	if u.Scheme == "http" && !o.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("bearer: JWKS URL %q must use https: keys fetched in the clear could be replaced (set AllowInsecureHTTP to override)", raw)
	}
	v := &JWTValidator{
		issuer: o.Issuer, audience: o.Audience, jwksURL: u.String(), fallback: o.Fallback,
		client: o.HTTPClient, timeout: positive(o.Timeout, DefaultTimeout),
		interval: positive(o.RefreshInterval, DefaultJWKSRefreshInterval),
		leeway:   positive(o.Leeway, DefaultLeeway), now: o.Now,
	}
	if v.client == nil {
		v.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if o.CacheSize >= 0 {
		v.verified = newCache(int(positive(time.Duration(o.CacheSize), DefaultCacheSize)))
	}
	return v, nil
}

// Validate implements Validator.
func (v *JWTValidator) Validate(ctx context.Context, token string) (*Principal, error) {
	// A JWS in compact serialization has exactly two dots; Gatehouse's
	// opaque credentials have none.
	if strings.Count(token, ".") != 2 {
		if v.fallback == nil {
			return nil, ErrInvalidToken
		}
		return v.fallback.Validate(ctx, token)
	}
	// A token verified before is unchanged (it is signed): only its expiry
	// can make it invalid, and the cache drops it at "exp".
	var key [32]byte
	if v.verified != nil {
		key = sha256.Sum256([]byte(token))
		if p, ok := v.verified.get(key, v.now()); ok {
			return p.clone(), nil
		}
	}
	jws, err := jose.ParseSigned(token, jwtAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrInvalidToken
	}
	h := jws.Signatures[0].Header
	// RFC 9068 §4: "Resource servers MUST verify that the typ header value
	// is "at+jwt" or "application/at+jwt" and reject tokens carrying any
	// other type value." This refuses an ID token (typ "JWT") replayed here.
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, ErrInvalidToken
	}
	pub, err := v.key(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, ErrInvalidToken
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, ErrInvalidToken
	}
	p, err := v.claims(payload)
	if err != nil {
		return nil, err
	}
	if v.verified != nil {
		v.verified.put(key, p, p.ExpiresAt)
		return p.clone(), nil
	}
	return p, nil
}

// key returns the published key for kid usable with alg, fetching the JWKS
// when it is not known yet — at most once per refresh interval. It returns
// (nil, nil) for a kid that is not published.
func (v *JWTValidator) key(ctx context.Context, kid, alg string) (*jose.JSONWebKey, error) {
	v.mu.RLock()
	k := findKey(v.keys, kid, alg)
	v.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := findKey(v.keys, kid, alg); k != nil {
		return k, nil
	}
	if !v.lastFetch.IsZero() && v.now().Sub(v.lastFetch) < v.interval {
		if v.keys == nil {
			// The last fetch failed and none is due yet: the token cannot
			// be checked, which is not the same as invalid.
			return nil, errors.New("bearer: the JWKS is unavailable")
		}
		return nil, nil
	}
	v.lastFetch = v.now()
	set, err := v.fetch(ctx)
	if err != nil {
		if v.keys == nil {
			// No keys at all: the token cannot be checked, which is not the
			// same as invalid (the middleware answers 503, never fails open).
			return nil, err
		}
		return nil, nil
	}
	v.keys = set
	return findKey(v.keys, kid, alg), nil
}

// findKey picks the public key with this kid whose algorithm matches the
// token's: RFC 8725 §3.1 "libraries MUST enable the caller to specify a
// supported set of algorithms and MUST NOT use any other algorithms", and a
// key is only used with its own algorithm.
func findKey(set *jose.JSONWebKeySet, kid, alg string) *jose.JSONWebKey {
	if set == nil || kid == "" {
		return nil
	}
	for _, k := range set.Key(kid) {
		if (k.Algorithm != "" && k.Algorithm != alg) || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		return &k
	}
	return nil
}

func (v *JWTValidator) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("bearer: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bearer: fetching the JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bearer: fetching the JWKS: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("bearer: reading the JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("bearer: the JWKS is not a valid JSON Web Key Set")
	}
	return &set, nil
}

// claims checks the RFC 9068 §2.2 claims and builds the principal the
// introspection path would.
func (v *JWTValidator) claims(payload []byte) (*Principal, error) {
	var c struct {
		Issuer   string          `json:"iss"`
		Subject  string          `json:"sub"`
		Audience json.RawMessage `json:"aud"`
		ClientID string          `json:"client_id"`
		Scope    string          `json:"scope"`
		Exp      json.RawMessage `json:"exp"`
		Iat      json.RawMessage `json:"iat"`
		Nbf      json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrInvalidToken
	}
	// RFC 9068 §4: "The issuer identifier for the authorization server
	// (which is typically obtained during discovery) MUST exactly match
	// the value of the iss claim."
	if c.Issuer != v.issuer {
		return nil, ErrInvalidToken
	}
	// RFC 9068 §4: "The resource server MUST validate that the aud claim
	// contains a resource indicator value corresponding to an identifier
	// the resource server expects for itself."
	var aud []string
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		aud = []string{one}
	} else if json.Unmarshal(c.Audience, &aud) != nil {
		return nil, ErrInvalidToken
	}
	if !slices.Contains(aud, v.audience) {
		return nil, ErrInvalidToken
	}
	now := v.now()
	// RFC 9068 §4: "The current time MUST be before the time represented
	// by the exp claim." exp is required (§2.2).
	if c.Exp == nil {
		return nil, ErrInvalidToken
	}
	exp, err := unixTime(c.Exp)
	if err != nil || !now.Before(exp.Add(v.leeway)) {
		return nil, ErrInvalidToken
	}
	p := &Principal{
		Subject: c.Subject, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope),
		Kind: KindAccessToken, Audience: aud, Issuer: c.Issuer, TokenType: "Bearer", ExpiresAt: exp,
	}
	if c.Iat != nil {
		iat, err := unixTime(c.Iat)
		// A token issued in the future was not issued by a sane clock.
		if err != nil || iat.After(now.Add(v.leeway)) {
			return nil, ErrInvalidToken
		}
		p.IssuedAt = iat
	}
	if c.Nbf != nil {
		nbf, err := unixTime(c.Nbf)
		if err != nil || now.Add(v.leeway).Before(nbf) {
			return nil, ErrInvalidToken
		}
	}
	return p, nil
}
