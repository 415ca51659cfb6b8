package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// ccChild is a server child with its own settings, bench user and
// client_credentials client: the same workload as client_credentials,
// measured against a server configured differently.
type ccChild struct {
	srv *serverProc
	c   *httpClient
	cc  ClientCreds
}

// needCCChild starts (once per name) a server child with extra settings
// and registers a client_credentials client on it.
func (f *fixtures) needCCChild(ctx context.Context, name string, extra map[string]string, workers int) (*ccChild, error) {
	if f.spawn == nil {
		return nil, &NotAvailableError{What: "a second server (the bench must start its own server to configure it)"}
	}
	err := f.once("child-"+name, func() error {
		srv, admin, drop, err := f.spawn(ctx, extra)
		if err != nil {
			return fmt.Errorf("starting the %s server: %w", name, err)
		}
		child := &ccChild{srv: srv, c: newHTTPClient(srv.baseURL, workers)}
		f.closers = append(f.closers, func() { child.c.close(); srv.stop(); drop() })
		email := "bench-" + strings.ToLower(randomWord(10)) + "@example.com"
		if err := admin.CreateUser(ctx, email, "Bench-"+randomWord(24)); err != nil {
			return fmt.Errorf("creating the bench user: %w", err)
		}
		child.cc, err = admin.CreateClient(ctx, ClientSpec{
			Name: "bench-cc-" + randomWord(6), OwnerEmail: email, RedirectURIs: []string{benchRedirectURI},
			GrantTypes: []string{"client_credentials"}, Scopes: []string{benchScope},
		})
		if err != nil {
			return fmt.Errorf("creating the client_credentials client: %w", err)
		}
		if f.children == nil { // once runs this holding f.mu
			f.children = map[string]*ccChild{}
		}
		f.children[name] = child
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.children[name], nil
}

// auditOffSettings configure the child that issues tokens without writing
// their audit entries, to measure what those entries cost.
var auditOffSettings = map[string]string{"GATEHOUSE_AUDIT_TOKEN_ENTRIES": "false"}

// clientCredentialsAuditOff is client_credentials against a server child
// with audit_token_entries off; the server CPU figures are the child's.
func clientCredentialsAuditOff(ctx context.Context, f *fixtures, n int) ([]Op, error) {
	child, err := f.needCCChild(ctx, "audit-off", auditOffSettings, n)
	if err != nil {
		return nil, err
	}
	f.setMeasured(child.srv)
	return tokenOps(ctx, child.c, ccTokenRequest(child.cc), n)
}

// tokenOps are n workers sending token request r through c, each
// checking that it was answered with an access token.
func tokenOps(ctx context.Context, c *httpClient, r *request, n int) ([]Op, error) {
	ops := sameOp(n, func(buf *bytes.Buffer) Op {
		return func(ctx context.Context) error {
			resp, err := c.do(ctx, r, buf)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`"access_token"`)) {
				return statusErr(r, resp, buf.Bytes())
			}
			return nil
		}
	})
	return ops, probe(ctx, "token endpoint", ops[0])
}

// clientCredentialsAuditOffRequest is that workload's one fixed request,
// by the child's absolute URL, for an external generator.
func clientCredentialsAuditOffRequest(f *fixtures) *request {
	f.mu.Lock()
	child := f.children["audit-off"]
	f.mu.Unlock()
	r := ccTokenRequest(child.cc)
	r.URL = child.c.base + r.URL
	return r
}
