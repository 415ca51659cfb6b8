package leak

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// LimitConfig is the per-address rate limit of the endpoint.
type LimitConfig struct {
	// Every is the sustained rate: one request per Every (default 1s).
	Every time.Duration
	// Burst is how many requests may come at once (default 20).
	Burst int
	// MaxAddrs bounds the addresses remembered (default 10000); when full,
	// idle buckets are dropped, and then an arbitrary one.
	MaxAddrs int
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
	return c
}

// maxBody bounds the request: MaxCredentials tokens of < 64 bytes, quoted,
// with room for whitespace.
const maxBody = 16 << 10

// Handler serves POST /v0/credentials/revoke. It needs no authentication.
type Handler struct {
	svc *Service
	lim *limiter
	log *slog.Logger
}

// NewHandler returns the HTTP area. now is the clock of the rate limiter.
func NewHandler(svc *Service, cfg LimitConfig, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, lim: newLimiter(cfg.withDefaults(), svc.now), log: log}
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
	res, err := h.svc.Revoke(r.Context(), req.Credentials)
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

// clientKey is the rate-limit key: the peer's IPv4 address, or its IPv6 /64
// (one host usually holds a whole /64), from r.RemoteAddr as the client-
// address resolver (internal/clientaddr) set it.
func clientKey(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

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
