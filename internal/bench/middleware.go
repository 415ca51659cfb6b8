package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/bearer"
)

// benchAPI is the resource server the middleware workloads play: declared
// in the server's configuration file (apis section) with the bench's scope,
// so that Gatehouse tells its resource-server client about the bench's
// credentials (they carry one of the API's scopes and name no audience).
const benchAPI = "https://api.bench.example"

// benchAPIPath is the one route of the in-process API.
const benchAPIPath = "/bench/me"

// needResourceServer registers the bench API's resource-server client: the
// credentials its introspection calls authenticate with.
func (f *fixtures) needResourceServer(ctx context.Context) error {
	if err := f.needUser(ctx); err != nil {
		return err
	}
	return f.once("rs", func() error {
		var err error
		f.rs, err = f.admin.CreateClient(ctx, ClientSpec{
			Name: "bench-rs-" + randomWord(6), OwnerEmail: f.email, ResourceServer: benchAPI,
		})
		if err != nil {
			return fmt.Errorf("creating the resource-server client for %s: %w", benchAPI, err)
		}
		return nil
	})
}

// onClose registers fn to run when the run ends.
func (f *fixtures) onClose(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closers = append(f.closers, fn)
}

// close runs what onClose registered, last first.
func (f *fixtures) close() {
	f.mu.Lock()
	fns := f.closers
	f.closers = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// startProtectedAPI serves, on a fresh loopback port of this process, one
// trivial route guarded as an API provider guards its own:
// bearer.New(introspector).Require(benchScope), the introspector asking the
// server's /oauth2/introspect as the bench API's resource server. kind is
// the credential kind the route accepts (bearer.Options.Kinds), so a
// workload measures the credential its title names and nothing else. It
// returns the route's URL; the server stops when the run ends.
func (f *fixtures) startProtectedAPI(ctx context.Context, cacheTTL time.Duration, kind string, workers int) (string, error) {
	if err := f.needResourceServer(ctx); err != nil {
		return "", err
	}
	hc := &http.Client{
		Transport:     loopbackTransport(workers),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint: f.c.base + "/oauth2/introspect",
		ClientID: f.rs.ID, ClientSecret: f.rs.Secret,
		// A pool of keep-alive connections as deep as the load: the default
		// client keeps two idle connections per host, so without the cache
		// most introspection calls would dial a new connection, and the
		// workload would measure connection set-up instead of introspection.
		HTTPClient: hc,
		CacheTTL:   cacheTTL,
	})
	if err != nil {
		return "", err
	}
	return f.serveProtected(in, kind, hc.CloseIdleConnections)
}

// serveProtected serves, on a fresh loopback port of this process, one
// trivial route guarded by bearer.New(v).Require(benchScope) accepting
// credentials of kind, and returns its URL; it stops when the run ends,
// then cleanup (if any) runs.
func (f *fixtures) serveProtected(v bearer.Validator, kind string, cleanup func()) (string, error) {
	mw, err := bearer.New(v, bearer.Options{Realm: "bench", Kinds: []string{kind}})
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+benchAPIPath, mw.Require(benchScope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := bearer.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sub":%q,"kind":%q}`, p.Subject, p.Kind)
	})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	f.onClose(func() {
		srv.Close()
		if cleanup != nil {
			cleanup()
		}
	})
	return "http://" + ln.Addr().String() + benchAPIPath, nil
}

// credentials returns the bearer credential each of n workers presents.
type credentials func(ctx context.Context, f *fixtures, n int) ([]string, error)

// sameCredential has every worker present one credential.
func sameCredential(token func(f *fixtures) string, need func(*fixtures, context.Context) error) credentials {
	return func(ctx context.Context, f *fixtures, n int) ([]string, error) {
		if err := need(f, ctx); err != nil {
			return nil, err
		}
		return slices.Repeat([]string{token(f)}, n), nil
	}
}

// workerPATs gives each worker its own personal access token (up to
// maxWorkerPATs, then they repeat). The introspector shares one call among
// concurrent requests with the same uncached credential, so with one
// credential for all workers a cache-off workload would measure fewer
// introspection calls than requests.
func workerPATs(ctx context.Context, f *fixtures, n int) ([]string, error) {
	if err := f.needWorkerPATs(ctx, n); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		out[i] = f.workerPATs[i%len(f.workerPATs)]
	}
	return out, nil
}

// middlewareCall drives the in-process API with bearer credentials.
// nocache turns the introspector's cache off (a negative CacheTTL), so every
// request introspects; otherwise the default CacheTTL applies and, after the
// first request with a credential, the middleware answers from its cache.
func middlewareCall(kind string, nocache bool, creds credentials) func(context.Context, *fixtures, int) ([]Op, error) {
	return func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
		tokens, err := creds(ctx, f, n)
		if err != nil {
			return nil, err
		}
		ttl := bearer.DefaultCacheTTL
		if nocache {
			ttl = -1
		}
		u, err := f.startProtectedAPI(ctx, ttl, kind, n)
		if err != nil {
			return nil, err
		}
		ops := make([]Op, n)
		for i := range ops {
			r := &request{Method: "GET", URL: u, Auth: "Bearer " + tokens[i]}
			buf := new(bytes.Buffer)
			ops[i] = func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
		}
		// The probe also proves the set-up: a resource-server client the
		// server does not know, or a credential it does not tell the API
		// about, answers 503 or 401 here instead of measuring refusals.
		r := &request{Method: "GET", URL: u, Auth: "Bearer " + tokens[0]}
		var buf bytes.Buffer
		if err := expect2xx(ctx, f.c, r, &buf); err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Status == http.StatusServiceUnavailable {
				return nil, fmt.Errorf("the bearer middleware could not introspect (is %s declared in the apis section?): %w", benchAPI, err)
			}
			return nil, fmt.Errorf("the bearer middleware refused the bench's credential: %w", err)
		}
		if !strings.Contains(buf.String(), fmt.Sprintf(`"kind":%q`, kind)) {
			return nil, fmt.Errorf("the bearer middleware saw %s, want kind %q", buf.String(), kind)
		}
		return ops, nil
	}
}
