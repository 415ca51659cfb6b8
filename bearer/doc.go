// Package bearer protects an API provider's own Go API with Gatehouse
// credentials: OAuth 2.0 access tokens, personal access tokens and API keys.
//
// A request presents its credential as
//
//	Authorization: Bearer <credential>
//
// or, for API keys, as
//
//	X-API-Key: gthk_…
//
// The middleware checks it with a Validator — normally an Introspector,
// which asks Gatehouse's introspection endpoint (RFC 7662,
// POST <issuer>/oauth2/introspect) authenticating as a confidential client
// with HTTP Basic — and puts the resulting Principal in the request context.
//
// # Usage
//
//	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
//		Endpoint:     "https://auth.example.com/oauth2/introspect",
//		ClientID:     "cards-api",
//		ClientSecret: os.Getenv("CLIENT_SECRET"),
//	})
//	if err != nil { … }
//	mw, err := bearer.New(in, bearer.Options{Realm: "cards"})
//	if err != nil { … }
//	mux := http.NewServeMux()
//	mux.Handle("GET /v0/me/cards", mw.Require("cards:read")(cardsHandler))
//
//	func cardsHandler(w http.ResponseWriter, r *http.Request) {
//		p, _ := bearer.FromContext(r.Context())
//		// p.Subject is the account, p.ClientID the app, p.Scopes the grant.
//	}
//
// Require lists the scopes a route needs; all of them are required.
//
// # Answers
//
// Refusals follow RFC 6750 §3, with a WWW-Authenticate challenge and a JSON
// body {"error": …, "error_description": …}:
//
//   - no credential, or another scheme than Bearer: 401 with
//     WWW-Authenticate: Bearer realm="…" and no error code (§3.1);
//   - a credential in the URL (access_token, api_key, apikey) or in a form
//     body, two Authorization or X-API-Key headers, both headers at once, or
//     a malformed header: 400 invalid_request;
//   - an unknown, inactive, revoked or expired credential, a refresh token,
//     or a credential for another audience or of a kind not accepted: 401
//     invalid_token;
//   - a valid credential without a required scope: 403 insufficient_scope
//     with scope="<the scopes the route requires>";
//   - the introspection endpoint unreachable, slow (Timeout), answering an
//     error or garbage: 503 temporarily_unavailable. A credential that
//     could not be checked is never treated as valid.
//
// Request bodies of type application/x-www-form-urlencoded are parsed (to
// refuse access_token in them); the handler finds the fields in r.PostForm.
//
// # Caching and staleness
//
// The Introspector caches answers in memory, keyed by the SHA-256 of the
// credential (never the credential itself), in a least-recently-used cache
// of at most CacheSize entries. An active answer is reused for CacheTTL
// (default 30 s) but never past the credential's "exp"; an inactive answer
// for InactiveCacheTTL (default 5 s). So a revoked credential may be
// accepted for up to CacheTTL after its revocation: choose CacheTTL for the
// staleness the API can tolerate, or a negative value to introspect every
// request. Concurrent requests with the same uncached credential share one
// introspection call.
//
// # Local validation of JWT access tokens
//
// When Gatehouse issues JWT access tokens (RFC 9068; access_token_format
// jwt), a JWTValidator checks them without a call per request: signature
// against the keys published at <issuer>/oauth/jwks (fetched once, cached,
// refetched on an unknown "kid" at most once per RefreshInterval), typ
// at+jwt (an ID token is refused), alg RS256, ES256 or EdDSA matching the
// key (never none or HS256), iss, aud containing this API's identifier, exp,
// nbf and iat. Any other credential (opaque tokens, PATs, API keys) goes to
// its Fallback, typically an Introspector.
//
// The trade-off: a JWT checked offline stays valid until it expires even if
// it was revoked. Gatehouse keeps JWT access tokens short-lived (5 minutes
// by default); where revocation must take effect at once, use opaque tokens
// or the Introspector.
//
// # Other validators
//
// Validator is the seam for other ways of checking a credential: anything
// that returns a *Principal, or ErrInvalidToken for a credential to refuse,
// plugs into New.
package bearer
