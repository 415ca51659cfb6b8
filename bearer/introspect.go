package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of IntrospectorOptions.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultCacheTTL         = 30 * time.Second
	DefaultInactiveCacheTTL = 5 * time.Second
	DefaultCacheSize        = 10000
)

// maxResponseBytes bounds what is read from the introspection endpoint.
const maxResponseBytes = 1 << 20

// IntrospectorOptions configure an Introspector. Only Endpoint, ClientID and
// ClientSecret are required.
type IntrospectorOptions struct {
	// Endpoint is the introspection endpoint, for Gatehouse
	// "<issuer>/oauth2/introspect". It must be https, except on a loopback
	// host or with AllowInsecureHTTP: the client secret travels with every
	// call.
	Endpoint string
	// ClientID and ClientSecret identify this resource server to the
	// authorization server (a confidential client; sent as HTTP Basic,
	// client_secret_basic).
	ClientID     string
	ClientSecret string
	// TokenTypeHint, when set, is sent as token_type_hint (RFC 7662 §2.1).
	// Gatehouse does not need it: its credentials say their own type.
	TokenTypeHint string
	// HTTPClient makes the calls. The default is a client of its own that
	// does not follow redirects (a redirected POST would lose its body).
	HTTPClient *http.Client
	// Timeout bounds one introspection call. Default DefaultTimeout.
	Timeout time.Duration
	// CacheTTL is how long an active result is reused, never past the
	// credential's "exp". A revoked credential may be accepted for up to
	// CacheTTL after its revocation. Default DefaultCacheTTL; negative turns
	// caching off (every request is introspected).
	CacheTTL time.Duration
	// InactiveCacheTTL is how long an inactive result is reused, which spares
	// the authorization server a flood of calls with one bad token. Default
	// DefaultInactiveCacheTTL; negative turns it off.
	InactiveCacheTTL time.Duration
	// CacheSize bounds the number of cached results (least recently used
	// first out). Default DefaultCacheSize.
	CacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// AllowInsecureHTTP permits a plain-http Endpoint on a non-loopback host
	// (for example inside a private container network).
	AllowInsecureHTTP bool
}

// Introspector is a Validator that asks the authorization server about each
// credential with OAuth 2.0 Token Introspection (RFC 7662) and caches the
// answers briefly. Concurrent requests with the same uncached credential
// share one call. It is safe for concurrent use.
type Introspector struct {
	endpoint      string
	authorization string // precomputed "Basic …" header
	hint          string
	client        *http.Client
	timeout       time.Duration
	ttl, inactive time.Duration
	now           func() time.Time
	cache         *cache // nil when both TTLs are off
	flight        singleflight.Group
}

// NewIntrospector checks o and returns an Introspector.
func NewIntrospector(o IntrospectorOptions) (*Introspector, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("bearer: introspection endpoint %q is not an absolute http(s) URL", o.Endpoint)
	}
	if u.Scheme == "http" && !o.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("bearer: introspection endpoint %q must use https: the client secret is sent with every call (set AllowInsecureHTTP to override)", o.Endpoint)
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("bearer: the introspection client id and secret are required (RFC 7662 §2.1: the endpoint requires authorization)")
	}
	in := &Introspector{
		endpoint: u.String(),
		// RFC 6749 §2.3.1: "The client identifier is encoded using the
		// "application/x-www-form-urlencoded" encoding algorithm per
		// Appendix B, and the encoded value is used as the username; the
		// client password is encoded using the same algorithm and used as
		// the password."
		authorization: "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(o.ClientID)+":"+url.QueryEscape(o.ClientSecret))),
		hint:     o.TokenTypeHint,
		client:   o.HTTPClient,
		timeout:  positive(o.Timeout, DefaultTimeout),
		ttl:      orDefault(o.CacheTTL, DefaultCacheTTL),
		inactive: orDefault(o.InactiveCacheTTL, DefaultInactiveCacheTTL),
		now:      o.Now,
	}
	if in.client == nil {
		in.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.ttl > 0 || in.inactive > 0 {
		in.cache = newCache(int(positive(time.Duration(o.CacheSize), DefaultCacheSize)))
	}
	return in, nil
}

func positive(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// orDefault keeps a negative v (off) and replaces zero by def.
func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate implements Validator: it returns the cached answer when there is
// a fresh one, and otherwise introspects the token once for all concurrent
// callers.
func (in *Introspector) Validate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, ErrInvalidToken
	}
	key := sha256.Sum256([]byte(token))
	if p, ok := in.cached(key); ok {
		return in.answer(p)
	}
	// The shared call must not fail because the first caller gave up, so it
	// runs on a context without that caller's cancellation, bounded by the
	// timeout instead; each caller still stops waiting when its own ctx ends.
	shared := context.WithoutCancel(ctx)
	ch := in.flight.DoChan(string(key[:]), func() (any, error) {
		// A call that finished between our cache miss and this flight has
		// already filled the cache.
		if p, ok := in.cached(key); ok {
			return p, nil
		}
		p, err := in.introspect(shared, token)
		if err != nil {
			return nil, err
		}
		in.store(key, p)
		return p, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return in.answer(res.Val.(*Principal))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (in *Introspector) cached(key [32]byte) (*Principal, bool) {
	if in.cache == nil {
		return nil, false
	}
	return in.cache.get(key, in.now())
}

// answer turns a shared result (nil: inactive) into a caller's own copy.
func (in *Introspector) answer(p *Principal) (*Principal, error) {
	if p == nil {
		return nil, ErrInvalidToken
	}
	return p.clone(), nil
}

// store caches a result: an active one for CacheTTL but never past its
// "exp", an inactive one for InactiveCacheTTL.
func (in *Introspector) store(key [32]byte, p *Principal) {
	if in.cache == nil {
		return
	}
	now := in.now()
	ttl := in.ttl
	if p == nil {
		ttl = in.inactive
	}
	if ttl <= 0 {
		return
	}
	until := now.Add(ttl)
	if p != nil && !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
		until = p.ExpiresAt
	}
	if until.After(now) {
		in.cache.put(key, p, until)
	}
}

// introspect makes one RFC 7662 call. It returns (nil, nil) for a
// credential that must be refused, and an error when there is no usable
// answer. Errors never contain the token (it travels in the body only).
func (in *Introspector) introspect(ctx context.Context, token string) (*Principal, error) {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	// RFC 7662 §2.1: "The protected resource calls the introspection
	// endpoint using an HTTP POST request with parameters sent as
	// "application/x-www-form-urlencoded" data."
	form := url.Values{"token": {token}}
	if in.hint != "" {
		form.Set("token_type_hint", in.hint)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("bearer: building the introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.authorization)
	res, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bearer: introspection call failed: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bearer: reading the introspection response: %w", err)
	}
	if len(body) > maxResponseBytes {
		return nil, errors.New("bearer: the introspection response is larger than 1 MiB")
	}
	if res.StatusCode != http.StatusOK {
		// A 401 here means our own client credentials were refused: a
		// configuration problem, not a bad token — so no request may pass.
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, fmt.Errorf("bearer: the introspection endpoint answered %d %q", res.StatusCode, e.Error)
	}
	p, err := parseIntrospection(body, in.now())
	if err != nil {
		return nil, err
	}
	return p, nil
}

// parseIntrospection reads an RFC 7662 §2.2 response. It returns (nil, nil)
// for a credential that must be refused: inactive, expired, not yet valid,
// or not an access credential.
func parseIntrospection(body []byte, now time.Time) (*Principal, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errors.New("bearer: the introspection response is not a JSON object")
	}
	bad := func(member string) error {
		return fmt.Errorf("bearer: the introspection response has a malformed %q member", member)
	}
	// RFC 7662 §2.2: "active REQUIRED. Boolean indicator of whether or not
	// the presented token is currently active." Anything but JSON true is
	// inactive; a missing or non-boolean member is a broken server.
	var active bool
	if raw, ok := m["active"]; !ok || json.Unmarshal(raw, &active) != nil {
		return nil, bad("active")
	}
	if !active {
		return nil, nil
	}
	p := &Principal{}
	var scope string
	strs := []struct {
		member string
		dst    *string
	}{
		{"scope", &scope}, {"client_id", &p.ClientID}, {"sub", &p.Subject}, {"iss", &p.Issuer},
		{"token_type", &p.TokenType}, {"credential_kind", &p.Kind},
	}
	for _, s := range strs {
		if raw, ok := m[s.member]; ok {
			if json.Unmarshal(raw, s.dst) != nil {
				return nil, bad(s.member)
			}
			delete(m, s.member)
		}
	}
	p.Scopes = strings.Fields(scope)
	times := []struct {
		member string
		dst    *time.Time
	}{{"exp", &p.ExpiresAt}, {"iat", &p.IssuedAt}}
	for _, t := range times {
		if raw, ok := m[t.member]; ok {
			v, err := unixTime(raw)
			if err != nil {
				return nil, bad(t.member)
			}
			*t.dst = v
			delete(m, t.member)
		}
	}
	if raw, ok := m["aud"]; ok {
		// RFC 7662 §2.2 defers to JWT (RFC 7519 §4.1.3): "the "aud" value
		// MAY be a single case-sensitive string" or an array of them.
		var one string
		if json.Unmarshal(raw, &one) == nil {
			p.Audience = []string{one}
		} else if json.Unmarshal(raw, &p.Audience) != nil {
			return nil, bad("aud")
		}
	}
	delete(m, "active")
	delete(m, "aud")
	if len(m) > 0 {
		p.Extra = m
	}

	// An active answer is still refused when the credential is past "exp"
	// (clocks differ, and the answer may be stale) or before "nbf".
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return nil, nil
	}
	if raw, ok := m["nbf"]; ok {
		nbf, err := unixTime(raw)
		if err != nil {
			return nil, bad("nbf")
		}
		if now.Before(nbf) {
			return nil, nil
		}
	}
	// Gatehouse also answers active for a refresh token, marked
	// "token_use": "refresh_token". RFC 6749 §1.5: refresh tokens are
	// "never sent to resource servers", so one presented here is refused.
	if raw, ok := m["token_use"]; ok {
		var use string
		if json.Unmarshal(raw, &use) != nil {
			return nil, bad("token_use")
		}
		if use != "access_token" {
			return nil, nil
		}
	}
	if p.Kind == "refresh_token" {
		return nil, nil
	}
	return p, nil
}

// unixTime reads a NumericDate (seconds since the epoch, RFC 7662 §2.2).
func unixTime(raw json.RawMessage) (time.Time, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, err
	}
	if math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
