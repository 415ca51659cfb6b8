// Package server builds Gatehouse's HTTP handler — the route table plus the
// middleware every request passes through (request id, access log, metrics,
// security headers, panic recovery, body limit, JSON 404/405) — and runs it
// with timeouts and graceful shutdown.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Area is a part of the product that mounts its routes (Go 1.22 patterns).
type Area interface {
	Routes(mux *http.ServeMux)
}

// Pinger reports whether the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure New.
type Options struct {
	Log      *slog.Logger
	DB       Pinger
	Registry *prometheus.Registry // request metrics are registered here
	// MetricsToken, when set, serves /metrics on this handler to requests
	// with "Authorization: Bearer <MetricsToken>". Without it the handler
	// answers 404 for /metrics: metrics reveal traffic, routes and error
	// rates, so by default they are served only by MetricsHandler on a
	// separate listener.
	MetricsToken string
	MaxBodyBytes int64
	AccessLog    bool
	HTTPS        bool // send HSTS
	// BrowserFallback, when set, answers GET/HEAD requests that match no
	// route and whose Accept header prefers HTML (a person typing a URL):
	// the landing page at "/", an HTML 404 elsewhere. Everything else keeps
	// the JSON 404/405 API clients parse.
	BrowserFallback http.Handler
	// ImgOrigin is one more origin the pages may load images from (the
	// operator's logo), added to the CSP's img-src; "" adds none.
	ImgOrigin string
	Version   string
	// ClientAddr resolves each request's client address from trusted
	// proxies' headers before anything else sees it (nil: the TCP peer).
	ClientAddr *clientaddr.Resolver
	// Around wraps the router, innermost first, inside the standard chain
	// (for request rewriting such as X-API-Key). Wrappers must mutate r, not
	// clone it, so the route pattern stays visible to metrics.
	Around []func(http.Handler) http.Handler
}

// New returns the complete handler with the areas mounted.
func New(o Options, areas ...Area) http.Handler {
	mux := http.NewServeMux()
	// /healthz answers the same bytes every time: encode them once.
	health, _ := json.Marshal(map[string]string{"status": "ok", "version": o.Version})
	health = append(health, '\n')
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
		w.Write(health)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := o.DB.Ping(ctx); err != nil {
			o.Log.Warn("readiness: database unreachable", "err", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if o.MetricsToken != "" {
		mux.Handle("GET /metrics", requireBearer(o.MetricsToken, MetricsHandler(o.Registry)))
	}
	for _, a := range areas {
		a.Routes(mux)
	}
	m := newMetrics(o.Registry)
	var h http.Handler = fallback(mux, o.BrowserFallback)
	for _, wrap := range o.Around {
		h = wrap(h)
	}
	h = limitBody(h, o.MaxBodyBytes)
	h = recoverPanics(h, o.Log)
	h = securityHeaders(h, o.HTTPS, o.ImgOrigin)
	h = observe(h, m, o.Log, o.AccessLog)
	h = requestID(h)
	if o.ClientAddr != nil {
		h = o.ClientAddr.Middleware(h)
	}
	return h
}

// MetricsHandler serves the registry in the Prometheus text format, for the
// separate metrics listener.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// requireBearer lets through only requests carrying token as a bearer
// credential, compared in constant time; others get 401 with a Bearer
// challenge (RFC 6750 §3).
func requireBearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			httpx.WriteError(w, http.StatusUnauthorized, "unauthorized", "a valid metrics token is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Run serves h on ln until ctx is cancelled, then shuts down gracefully:
// the listener closes at once and in-flight requests get up to grace to finish.
func Run(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if certFile != "" {
			err = srv.ServeTLS(ln, certFile, keyFile)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
