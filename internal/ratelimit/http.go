package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Class is a group of routes sharing one limit per key.
type Class string

// The route classes. Each has a setting rate_limit_<class>.
const (
	TokenClient   Class = "token_client"   // POST /oauth2/token, per client_id
	TokenAddress  Class = "token_address"  // POST /oauth2/token, per client address
	SigninAccount Class = "signin_account" // POST /login (per email) and /login/2fa (per account)
	SigninAddress Class = "signin_address" // POST /login and /login/2fa, per address
	SignupAddress Class = "signup_address" // POST /signup, per address
	PATCreate     Class = "pat_create"     // POST /v0/me/tokens (per address and per Basic account), /account/tokens (per address), /admin/ with Basic (per account)
	Leak          Class = "leak_address"   // POST /v0/credentials/revoke, per address
	Admin         Class = "admin_address"  // everything under /admin/, per address
)

// ClassInfo documents a class for the settings table.
type ClassInfo struct {
	Class   Class
	Default string
	Help    string
}

// Classes lists every class with its default. The defaults stop scripted
// abuse while leaving room for a busy office behind one NAT address and for
// test suites that drive one server hard from 127.0.0.1; operators tighten
// them to their traffic.
func Classes() []ClassInfo {
	return []ClassInfo{
		{TokenClient, "100/s burst 1000", "token endpoint requests per client_id"},
		{TokenAddress, "100/s burst 1000", "token endpoint requests per client address"},
		{SigninAccount, "1/s burst 30", "sign-in and second-factor attempts per account (the password and code throttles still apply)"},
		{SigninAddress, "5/s burst 100", "sign-in and second-factor attempts per client address"},
		{SignupAddress, "1/s burst 50", "sign-up form posts per client address"},
		{PATCreate, "2/s burst 50", "credential creations with a password (personal access tokens; admin API secrets and keys) per client address, and per account for the API"},
		{Leak, "5/s burst 100", "leaked-credential reports per client address"},
		{Admin, "20/s burst 200", "admin API requests (/admin/) per client address"},
	}
}

// Responder answers a refused request in its route's own format. The
// limiter has already set Retry-After and the RateLimit headers.
type Responder func(w http.ResponseWriter, r *http.Request, status int, message string)

// HTTPOptions configure Middleware.
type HTTPOptions struct {
	Limiter *Limiter
	Rates   map[Class]Rate // a class missing here is off
	// Token answers at the token endpoint (an RFC 6749 §5.2 error body);
	// Page answers form posts from the browser with an HTML page. Nil
	// falls back to a JSON error body.
	Token, Page Responder
	// PendingAccount names the account a second-factor post is for ("" if
	// none), so second-factor attempts count per account too.
	PendingAccount func(*http.Request) string
}

// check is one key a request is counted under.
type check struct {
	class Class
	key   string
}

// Middleware limits the route classes. It must run inside the client-address
// middleware (addresses come from clientaddr only) and see the same
// *http.Request as the router: it may parse the form, which the handlers
// then find already parsed.
func Middleware(o HTTPOptions) func(http.Handler) http.Handler {
	jsonResp := func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
		code := "rate_limited"
		if status == http.StatusServiceUnavailable {
			code = "temporarily_unavailable"
		}
		httpx.WriteError(w, status, code, msg)
	}
	or := func(r Responder) Responder {
		if r == nil {
			return jsonResp
		}
		return r
	}
	token, page := or(o.Token), or(o.Page)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			checks, respond := classify(r, o, token, page, jsonResp)
			if len(checks) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			var shown *Decision
			var shownClass Class
			var refundable *check
			for _, c := range checks {
				rate := o.Rates[c.class]
				if rate.Off() {
					continue
				}
				d := o.Limiter.Allow(r.Context(), string(c.class), c.key, rate)
				if shown == nil || !d.Allowed || d.Remaining < shown.Remaining {
					shown, shownClass = &d, c.class
				}
				if !d.Allowed {
					break
				}
				if c.class == TokenClient && !d.Unavailable {
					refundable = &c
				}
			}
			if shown == nil {
				next.ServeHTTP(w, r)
				return
			}
			d := *shown
			if !d.Unavailable {
				setHeaders(w.Header(), shownClass, o.Rates[shownClass], d)
			}
			if d.Allowed && refundable != nil {
				// The client_id is the caller's claim until the handler
				// authenticates it. A request answered 401 (invalid_client)
				// was not the client's: its unit goes back, so nobody can
				// spend a client's budget by naming it (they spend their
				// address's).
				sw := &statusWriter{ResponseWriter: w}
				next.ServeHTTP(sw, r)
				if sw.status == http.StatusUnauthorized {
					o.Limiter.Refund(context.WithoutCancel(r.Context()), string(refundable.class), refundable.key, o.Rates[refundable.class])
				}
				return
			}
			if d.Allowed {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(d.RetryAfter)))
			if d.Unavailable {
				respond(w, r, http.StatusServiceUnavailable, "The service cannot check its rate limits right now. Try again shortly.")
				return
			}
			respond(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many requests. Try again in %s.", humanWait(d.RetryAfter)))
		})
	}
}

// classify names the keys a request counts under and who answers a refusal.
func classify(r *http.Request, o HTTPOptions, token, page, api Responder) ([]check, Responder) {
	addr := clientaddr.KeyOf(r)
	path := r.URL.Path
	if strings.HasPrefix(path, "/admin/") || path == "/admin" {
		resp := api
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			resp = page
		}
		cs := []check{{Admin, addr}}
		// The admin routes that mint a credential (a client secret, an API
		// key) take the administrator's password: counted per account too,
		// as PAT creation is, so guessing it from many addresses is slow.
		if user, _, ok := r.BasicAuth(); ok && user != "" {
			cs = append(cs, check{PATCreate, hashKey(strings.ToLower(strings.TrimSpace(user)))})
		}
		return cs, resp
	}
	if r.Method != http.MethodPost {
		return nil, nil
	}
	switch path {
	case "/oauth2/token":
		cs := []check{{TokenAddress, addr}}
		if id := clientID(r); id != "" {
			cs = append(cs, check{TokenClient, id})
		}
		return cs, token
	case "/login":
		cs := []check{{SigninAddress, addr}}
		if formOK(r) {
			if email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))); email != "" {
				// Hashed: Redis keys should not list who is signing in.
				cs = append(cs, check{SigninAccount, hashKey(email)})
			}
		}
		return cs, page
	case "/login/2fa":
		cs := []check{{SigninAddress, addr}}
		if o.PendingAccount != nil {
			if id := o.PendingAccount(r); id != "" {
				cs = append(cs, check{SigninAccount, "user:" + id})
			}
		}
		return cs, page
	case "/signup":
		return []check{{SignupAddress, addr}}, page
	case "/account/tokens":
		return []check{{PATCreate, addr}}, page
	case "/v0/me/tokens":
		cs := []check{{PATCreate, addr}}
		// Creation needs the owner in person (Basic email:password), so
		// the Basic user names the account.
		if user, _, ok := r.BasicAuth(); ok && user != "" {
			cs = append(cs, check{PATCreate, hashKey(strings.ToLower(strings.TrimSpace(user)))})
		}
		return cs, api
	case "/v0/credentials/revoke":
		return []check{{Leak, addr}}, api
	}
	return nil, nil
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// clientID is the client a token request names: the HTTP Basic user (RFC
// 6749 §2.3.1, form-urlencoded then base64) or the client_id body parameter.
// Unauthenticated here: the unit is refunded when the handler answers 401.
func clientID(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return "id:" + user
	}
	if formOK(r) {
		if id := r.PostFormValue("client_id"); id != "" {
			return "id:" + id
		}
	}
	return ""
}

// formOK parses a form-urlencoded body without a query string; other bodies
// are left unread for the handler to refuse in its own words.
func formOK(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return false
	}
	return r.ParseForm() == nil
}

func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h:" + hex.EncodeToString(sum[:12])
}

// setHeaders writes the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers (-08), e.g.
// `RateLimit-Policy: "token_client";q=1000;w=10` — a quota q over a window
// of w seconds — and `RateLimit: "token_client";r=999;t=1` — r units
// remaining, t seconds until the quota is restored. For GCRA the quota is
// the burst and the window the time the burst takes to earn back.
func setHeaders(h http.Header, class Class, rate Rate, d Decision) {
	window := time.Duration(rate.burst()) * rate.interval()
	h.Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", string(class), rate.burst(), ceilSeconds(window)))
	h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", string(class), d.Remaining, int(math.Ceil(d.Reset.Seconds()))))
}

func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func humanWait(d time.Duration) string {
	s := ceilSeconds(d)
	if s == 1 {
		return "a second"
	}
	if s < 120 {
		return strconv.Itoa(s) + " seconds"
	}
	return strconv.Itoa((s+59)/60) + " minutes"
}
