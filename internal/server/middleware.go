package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the id of the request in ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// requestID gives every request an id, echoed in X-Request-Id. An incoming id
// is kept when it is short and printable, so a proxy's id threads through.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// The children already looked up, by their labels: WithLabelValues
	// hashes every label on every call, and the label sets are few (route
	// patterns × methods × statuses).
	counters  sync.Map // counterKey → prometheus.Counter
	observers sync.Map // observerKey → prometheus.Observer
}

type counterKey struct {
	route, method string
	status        int
}

type observerKey struct{ route, method string }

func (m *metrics) counter(route, method string, status int) prometheus.Counter {
	k := counterKey{route, method, status}
	if c, ok := m.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(route, method, strconv.Itoa(status))
	m.counters.Store(k, c)
	return c
}

func (m *metrics) observer(route, method string) prometheus.Observer {
	k := observerKey{route, method}
	if o, ok := m.observers.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := m.latency.WithLabelValues(route, method)
	m.observers.Store(k, o)
	return o
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe logs and measures each request. The route label is the matched
// pattern (set on r by ServeMux, which sees this same *Request because the
// middleware below mutate rather than copy it), never the raw path, so label
// cardinality is bounded and a credential in a path (DELETE
// /v0/me/tokens/{token}) never becomes a label. The access log does carry the
// raw path: the process logger redacts credentials from every line
// (credential.RedactHandler, installed where the logger is built).
func observe(next http.Handler, m *metrics, log *slog.Logger, accessLog bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		method := methodLabel(r.Method)
		m.counter(route, method, sw.status).Inc()
		m.observer(route, method).Observe(d.Seconds())
		if accessLog {
			attrs := []slog.Attr{
				slog.String("request_id", RequestID(r.Context())),
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("route", route), slog.Int("status", sw.status),
				slog.Duration("duration", d), slog.String("remote", clientaddr.Of(r).String()),
			}
			if peer, ok := clientaddr.Peer(r.Context()); ok {
				attrs = append(attrs, slog.String("proxy", peer.String()))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}
	})
}

// methodLabel bounds the method label the way the route pattern bounds the
// route label: a client chooses the method token freely, and an arbitrary one
// (even a pasted credential) must neither reach /metrics nor add a series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// securityHeaders are on every response, not opt-in. Pages are same-origin
// only, never framed (clickjacking on the consent page), never sniffed.
// form-action is deliberately absent: browsers apply it to the redirect after
// the consent form, which must reach the client's registered redirect URI.
func securityHeaders(next http.Handler, https bool, imgOrigin string) http.Handler {
	imgSrc := "'self' data:"
	if imgOrigin != "" {
		imgSrc += " " + imgOrigin
	}
	csp := "default-src 'self'; img-src " + imgSrc + "; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	// The values are built once and shared by every response: Header.Set
	// would allocate a slice per header per request. Each slice has
	// capacity 1, so a handler's Add appends to a copy, never to the shared
	// array; Set and Del replace the map entry.
	one := func(v string) []string { return []string{v}[:1:1] }
	fixed := []struct {
		key string
		val []string
	}{
		{"X-Content-Type-Options", one("nosniff")},
		{"X-Frame-Options", one("DENY")},
		{"Content-Security-Policy", one(csp)},
		{"Referrer-Policy", one("no-referrer")},
		{"Cross-Origin-Opener-Policy", one("same-origin")},
	}
	if https {
		fixed = append(fixed, struct {
			key string
			val []string
		}{"Strict-Transport-Security", one("max-age=63072000; includeSubDomains")})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fixed {
			h[f.key] = f.val
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a handler panic into a logged 500 server_error; the
// server keeps running. http.ErrAbortHandler is re-panicked, as net/http expects.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("panic in handler", "request_id", RequestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.wrote {
				return // too late for a clean error; the connection carries a partial body
			}
			httpx.WriteError(w, http.StatusInternalServerError, "server_error", "internal error; request id "+RequestID(r.Context()))
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; reading past it fails, and handlers
// answer 413 (see httpx.BodyTooLarge).
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			httpx.WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// fallback answers unknown routes and wrong methods with JSON 404/405
// (keeping the mux's Allow header) instead of the mux's plain-text bodies —
// or, for a browser asking for a page that does not exist, with the
// browser handler's HTML (see Options.BrowserFallback). This is the one
// place that decides between the two.
func fallback(mux *http.ServeMux, browser http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerOnly{header: http.Header{}}
		h, _ := mux.Handler(r)
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			if browser != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && PrefersHTML(r.Header.Get("Accept")) {
				browser.ServeHTTP(w, r)
				return
			}
			httpx.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			httpx.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
		default: // e.g. the mux's redirect to a cleaned path
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
		}
	})
}

// headerOnly records what the mux's fallback handler would send.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerOnly) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// PrefersHTML reports whether an Accept header (RFC 9110 §12.5.1) asks for
// text/html at least as much as for JSON. Browsers send
// "text/html,…,*/*;q=0.8"; curl sends "*/*" and API clients
// "application/json", which stay with JSON. Only an explicit text/html (or
// application/xhtml+xml) counts: "*/*" alone is a program that takes
// anything, and JSON is what programs here get.
func PrefersHTML(accept string) bool {
	html, json := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, p := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			html = max(html, q)
		case "application/json", "application/problem+json":
			json = max(json, q)
		}
	}
	return html > 0 && html >= json
}
