package leak

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// LimitConfig bounds the endpoint's work. Per address, requests are limited
// (a flood from one host); across all addresses, so is the work itself: each
// well-formed credential in a request costs one database write, and the
// global budget refills at GlobalPerSecond of them with room for GlobalBurst
// at once. A flood from many addresses therefore costs the database at most
// GlobalPerSecond writes a second, however many addresses it comes from, and
// token issuance keeps the rest. One request's work is capped by
// MaxCredentials and by RequestTimeout.
type LimitConfig struct {
	// Every is the sustained rate per address: one request per Every
	// (default 1s).
	Every time.Duration
	// Burst is how many requests one address may send at once (default 20).
	Burst int
	// MaxAddrs bounds the addresses remembered (default 10000); when full,
	// idle buckets are dropped, and then an arbitrary one.
	MaxAddrs int
	// GlobalPerSecond is how many credentials all addresses together may
	// have checked per second (default 200).
	GlobalPerSecond int
	// GlobalBurst is how many may be checked at once (default 400; never
	// below MaxCredentials, so every valid request can be served).
	GlobalBurst int
	// RequestTimeout bounds the database time of one request (default 10s);
	// past it the answer is 503 and the same request may be sent again.
	RequestTimeout time.Duration
}

func (c LimitConfig) withDefaults() LimitConfig {
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.Burst <= 0 {
		c.Burst = 20
	}
	if c.MaxAddrs <= 0 {
		c.MaxAddrs = 10000
	}
	if c.GlobalPerSecond <= 0 {
		c.GlobalPerSecond = 200
	}
	if c.GlobalBurst <= 0 {
		c.GlobalBurst = 400
	}
	c.GlobalBurst = max(c.GlobalBurst, MaxCredentials)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	return c
}

// maxBody bounds the request: MaxCredentials tokens of < 64 bytes, quoted,
// with room for whitespace.
const maxBody = 16 << 10

// Handler serves POST /v0/credentials/revoke. It needs no authentication.
type Handler struct {
	svc    *Service
	lim    *limiter
	global *rate.Limiter // credential checks across all addresses
	cfg    LimitConfig
	log    *slog.Logger
}

// NewHandler returns the HTTP area. now is the clock of the rate limiter.
func NewHandler(svc *Service, cfg LimitConfig, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Handler{
		svc: svc, lim: newLimiter(cfg, svc.now), cfg: cfg, log: log,
		global: rate.NewLimiter(rate.Limit(cfg.GlobalPerSecond), cfg.GlobalBurst),
	}
}

// Routes implements server.Area.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v0/credentials/revoke", h.revoke)
}

// Request is the body of POST /v0/credentials/revoke.
type Request struct {
	Credentials []string `json:"credentials"`
}

// Response is the one answer to every accepted request.
type Response struct {
	Message string `json:"message"`
}

// accepted is the same for every accepted request.
var accepted = Response{Message: "Thank you. Every live Gatehouse credential in the list has been revoked."}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	if ok, retry := h.lim.allow(clientKey(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		httpx.WriteError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests from your address; retry later.")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		httpx.WriteError(w, http.StatusUnsupportedMediaType, "invalid_request", `Send Content-Type: application/json and a body {"credentials": ["…"]}.`)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var req Request
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		if httpx.BodyTooLarge(err) {
			httpx.WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The body is too large; send at most "+strconv.Itoa(MaxCredentials)+" credentials per request.")
			return
		}
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", `The body must be {"credentials": ["…", …]}.`)
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "The body must hold exactly one JSON object.")
		return
	}
	if len(req.Credentials) == 0 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", `The body must be {"credentials": ["…", …]} with at least one credential.`)
		return
	}
	if len(req.Credentials) > MaxCredentials {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_request", "Send at most "+strconv.Itoa(MaxCredentials)+" credentials per request.")
		return
	}
	// The global budget is charged what the request will cost the
	// database before any of it is done; malformed strings cost nothing.
	if work := h.svc.Work(req.Credentials); work > 0 {
		now := h.svc.now()
		// AllowN takes the tokens only when they are all there. (ReserveN
		// followed by CancelAt would lend tokens to the future and give them
		// back only "as much as possible" when other reservations came in
		// between, so a flood of refused requests drained the budget.)
		if !h.global.AllowN(now, work) {
			missing := float64(work) - h.global.TokensAt(now)
			d := time.Duration(missing / float64(h.global.Limit()) * float64(time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(int(max((d+time.Second-1)/time.Second, 1))))
			httpx.WriteError(w, http.StatusTooManyRequests, "rate_limited", "The server is handling many reports right now; retry later.")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	res, err := h.svc.Revoke(ctx, req.Credentials)
	h.log.InfoContext(r.Context(), "leaked credentials reported", "received", res.Received, "checked", res.Checked, "malformed", res.Malformed, "remote", clientKey(r))
	if err != nil {
		h.log.ErrorContext(r.Context(), "leak: revoking", "err", err)
		w.Header().Set("Retry-After", "5")
		httpx.WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Revocation could not be completed; retry the same request.")
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusAccepted, accepted)
}

// clientKey is the rate-limit key of the request's client address.
func clientKey(r *http.Request) string { return clientaddr.KeyOf(r) }

// limiter is a token bucket per key with bounded memory.
type limiter struct {
	cfg LimitConfig
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func newLimiter(cfg LimitConfig, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, buckets: make(map[string]*rate.Limiter)}
}

// allow takes a token for key; when none is left it returns how long until
// one is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxAddrs {
			l.makeRoom(now)
		}
		b = rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)
		l.buckets[key] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// makeRoom drops full (idle) buckets — at most once a second, since it scans
// the map — and, if that frees nothing, one arbitrary bucket. A dropped
// bucket comes back full, which an idle one was anyway.
func (l *limiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.cfg.Burst) {
				delete(l.buckets, k)
			}
		}
	}
	if len(l.buckets) >= l.cfg.MaxAddrs {
		for k := range l.buckets {
			delete(l.buckets, k)
			break
		}
	}
}
