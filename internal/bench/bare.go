package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// The bare ceiling: what HTTP itself costs on this machine, so the shares in
// the report compare with the transport rather than with Gatehouse's own
// /healthz. ServeBare is a minimal net/http server — no middleware, no
// store — that parses a form POST and answers a fixed JSON document about
// the size of a token response. `gatehouse bench` runs it as a child
// process of its own binary (`gatehouse bench --serve-bare ADDR`), so it
// pays the same process, runtime and loopback costs as the real server.

// barePath is the bare server's one route; any other path answers 404.
const barePath = "/bare"

// bareBody is the answer: 141 bytes of JSON, the size of a client_credentials
// token response.
var bareBody = []byte(`{"access_token":"gh_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP","token_type":"Bearer","expires_in":3600,"scope":"profile:read"}` + "\n")

// bareForm is what the bare workload posts: a client_credentials request.
var bareForm = []byte(url.Values{"grant_type": {"client_credentials"}, "scope": {benchScope}}.Encode())

func bareHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(barePath, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(bareBody)
	})
	return mux
}

// ServeBare serves the bare handler on addr (a loopback address) until ctx
// ends.
func ServeBare(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if !loopbackHost(host) {
		return errNotLoopback
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bareHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareRequest is the bare workload's one request, absolute: the bare server
// listens on its own port.
func bareRequest(base string) *request {
	return &request{Method: "POST", URL: base + barePath, Body: bareForm, CType: formType}
}

// bareWorkload posts the form to the bare server at base.
func bareWorkload(base string) workload {
	return workload{
		Name: "bare", Title: "POST " + barePath + " to a bare net/http handler (form → 141 bytes JSON; no middleware, no store)", ReqsPerOp: 1,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			r := bareRequest(base)
			ops := sameOp(n, func(buf *bytes.Buffer) Op {
				return func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
			})
			return ops, probe(ctx, "bare server", ops[0])
		},
		static: func(*fixtures) *request { return bareRequest(base) },
	}
}

// runBare starts the bare server as a child process, measures
// it, and stops it.
func runBare(ctx context.Context, o *Options, fx *fixtures) Result {
	res := Result{Name: "bare", RequestsPerOp: 1}
	fail := func(err error) Result {
		res.Status, res.Reason = StatusFailed, "bare ceiling: "+err.Error()
		return res
	}
	// The bench's own executable, not --binary: the bare server is no part
	// of the Gatehouse under test, so an older binary can be measured
	// against the same ceiling.
	bin, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-bare-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return fail(err)
	}
	o.logf("starting the bare ceiling server on %s", addr)
	p, err := startProc(ctx, bin, []string{"bench", "--serve-bare", addr}, addr, barePath, os.Environ(), dir, "bare.log")
	if err != nil {
		return fail(err)
	}
	defer p.stop()
	return runWorkload(ctx, o, bareWorkload(p.baseURL), fx, p)
}
