package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/bearer"
)

// spawnFunc starts another server child with extra settings on a fresh
// database of the run's kind, returning it, an admin for it and what to do
// once it has stopped (drop its schema). Run sets it when the bench starts
// its own server; against --target the JWT workloads are n/a.
type spawnFunc func(ctx context.Context, extra map[string]string) (*serverProc, Admin, func(), error)

// newSpawner returns the spawnFunc of a bench-started server: same binary
// and configuration file, its own address, database and master key; a
// fresh schema in pgURL's database when set, else a fresh SQLite file.
func newSpawner(bin, dir, cfgFile, pgURL string) spawnFunc {
	return func(ctx context.Context, extra map[string]string) (*serverProc, Admin, func(), error) {
		sub, err := os.MkdirTemp(dir, "child-")
		if err != nil {
			return nil, nil, nil, err
		}
		database, drop := filepath.Join(sub, "gatehouse.db"), func() {}
		if pgURL != "" {
			if database, drop, err = freshPostgresSchema(ctx, pgURL); err != nil {
				return nil, nil, nil, err
			}
		}
		addr, err := freeLoopbackAddr()
		if err != nil {
			drop()
			return nil, nil, nil, err
		}
		set := serverSettings(addr, database, newMasterKey(), cfgFile)
		for k, v := range extra {
			set[k] = v
		}
		env := gatehouseEnv(set)
		srv, err := startServer(ctx, bin, addr, env, sub)
		if err != nil {
			drop()
			return nil, nil, nil, err
		}
		return srv, &adminCLI{binary: bin, env: env}, drop, nil
	}
}

// jwtServer is a server child issuing JWT access tokens signed with one
// algorithm, with its own bench user and client_credentials client.
type jwtServer struct {
	srv   *serverProc
	c     *httpClient
	cc    ClientCreds
	token string // one access token, for the middleware workload
}

// needJWTServer starts (once per algorithm) a server with
// access_token_format=jwt and jwt_access_token_alg=alg.
func (f *fixtures) needJWTServer(ctx context.Context, alg string, workers int) (*jwtServer, error) {
	if f.spawn == nil {
		return nil, &NotAvailableError{What: "JWT access tokens (the bench must start its own server to choose their algorithm)"}
	}
	var js *jwtServer
	err := f.once("jwt-"+alg, func() error {
		srv, admin, drop, err := f.spawn(ctx, map[string]string{
			"GATEHOUSE_ACCESS_TOKEN_FORMAT":  "jwt",
			"GATEHOUSE_JWT_ACCESS_TOKEN_ALG": alg,
			"GATEHOUSE_SIGNING_ALGORITHMS":   alg,
		})
		if err != nil {
			return fmt.Errorf("starting a server issuing %s JWT access tokens: %w", alg, err)
		}
		js = &jwtServer{srv: srv, c: newHTTPClient(srv.baseURL, workers)}
		f.closers = append(f.closers, func() { js.c.close(); srv.stop(); drop() })
		email := "bench-jwt-" + strings.ToLower(randomWord(10)) + "@example.com"
		if err := admin.CreateUser(ctx, email, "Bench-"+randomWord(24)); err != nil {
			return fmt.Errorf("creating the bench user: %w", err)
		}
		js.cc, err = admin.CreateClient(ctx, ClientSpec{
			Name: "bench-jwt-" + randomWord(6), OwnerEmail: email, RedirectURIs: []string{benchRedirectURI},
			GrantTypes: []string{"client_credentials"}, Scopes: []string{benchScope},
		})
		if err != nil {
			return fmt.Errorf("creating the client_credentials client: %w", err)
		}
		r := ccTokenRequest(js.cc)
		var buf bytes.Buffer
		resp, err := js.c.do(ctx, r, &buf)
		if err != nil {
			return err
		}
		tok, err := tokenResponse(r, resp, buf.Bytes())
		if err != nil {
			return err
		}
		if strings.Count(tok.AccessToken, ".") != 2 {
			return fmt.Errorf("the server issued %q, not a JWT", tok.AccessToken)
		}
		js.token = tok.AccessToken
		if f.jwt == nil {
			f.jwt = map[string]*jwtServer{}
		}
		f.jwt[alg] = js
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jwt[alg], nil
}

// jwtClientCredentials measures issuance of JWT access tokens signed with
// alg; the server CPU figures are those of the JWT server child.
func jwtClientCredentials(alg string) func(context.Context, *fixtures, int) ([]Op, error) {
	return func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
		js, err := f.needJWTServer(ctx, alg, n)
		if err != nil {
			return nil, err
		}
		f.setMeasured(js.srv)
		r := ccTokenRequest(js.cc)
		ops := sameOp(n, func(buf *bytes.Buffer) Op {
			return func(ctx context.Context) error {
				resp, err := js.c.do(ctx, r, buf)
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`"access_token":"ey`)) {
					return statusErr(r, resp, buf.Bytes())
				}
				return nil
			}
		})
		return ops, probe(ctx, "token endpoint", ops[0])
	}
}

// jwtTokenRequest is the JWT issuance workload's one fixed request, for an
// external generator: the token request of the alg's server child, by its
// absolute URL (the child is not the main bench server).
func jwtTokenRequest(alg string) func(*fixtures) *request {
	return func(f *fixtures) *request {
		f.mu.Lock()
		js := f.jwt[alg]
		f.mu.Unlock()
		r := ccTokenRequest(js.cc)
		r.URL = js.c.base + r.URL
		return r
	}
}

// middlewareJWT measures the public bearer middleware validating an EdDSA
// JWT access token locally (JWKS fetched once, then no Gatehouse call);
// nocache turns the verified-token cache off, so every request checks the
// signature.
func middlewareJWT(nocache bool) func(context.Context, *fixtures, int) ([]Op, error) {
	return func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
		return middlewareJWTOps(ctx, f, n, nocache)
	}
}

func middlewareJWTOps(ctx context.Context, f *fixtures, n int, nocache bool) ([]Op, error) {
	js, err := f.needJWTServer(ctx, "EdDSA", n)
	if err != nil {
		return nil, err
	}
	f.setMeasured(js.srv)
	issuer := js.srv.baseURL
	o := bearer.JWTOptions{
		// Gatehouse's JWTs name the issuer as their audience when the
		// client asked for no resource.
		Issuer: issuer, Audience: issuer, Timeout: 10 * time.Second,
	}
	if nocache {
		o.CacheSize = -1
	}
	v, err := bearer.NewJWTValidator(o)
	if err != nil {
		return nil, err
	}
	u, err := f.serveProtected(v, bearer.KindAccessToken, nil)
	if err != nil {
		return nil, err
	}
	r := &request{Method: "GET", URL: u, Auth: "Bearer " + js.token}
	ops := sameOp(n, func(buf *bytes.Buffer) Op {
		return func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
	})
	var buf bytes.Buffer
	if err := expect2xx(ctx, f.c, r, &buf); err != nil {
		return nil, fmt.Errorf("the bearer middleware refused the JWT: %w", err)
	}
	return ops, nil
}

// setMeasured makes runWorkload sample srv's CPU and memory for the current
// workload instead of the main server's.
func (f *fixtures) setMeasured(srv *serverProc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.measured = srv
}

func (f *fixtures) takeMeasured() *serverProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.measured
	f.measured = nil
	return m
}
