// Command codeflow runs the OAuth 2.0 authorization-code flow with PKCE
// against Gatehouse the way a native or command-line app does (RFC 8252): it
// listens on a loopback port, opens the authorization URL in a browser,
// receives the redirect with the code, exchanges the code together with the
// PKCE verifier, and prints the token response as JSON on stdout.
//
// Register the app with a loopback redirect URI. Gatehouse matches a
// loopback redirect on any port (RFC 8252 §7.3), so codeflow can take
// whichever port is free:
//
//	gatehouse client create --name "Demo App" --owner ada@example.com \
//	  --redirect-uri http://127.0.0.1/callback \
//	  --grant-type authorization_code --grant-type refresh_token \
//	  --scope profile:read --output json
//	CLIENT_ID=… CLIENT_SECRET=gths_… go run ./examples/codeflow > token.json
//
// Settings (flags, or the environment variable in brackets):
//
//	-issuer         Gatehouse's issuer URL [GATEHOUSE_URL] (default http://127.0.0.1:8080)
//	-client-id      the app's client id [CLIENT_ID] (required)
//	-client-secret  its client secret [CLIENT_SECRET]; empty for a public client
//	-scope          space-separated scopes (default profile:read)
//	-port           loopback port for the redirect (default 0: any free port)
//	-timeout        how long to wait for the browser (default 5m)
//
// The browser is $BROWSER if set (called with the URL as its one argument),
// else xdg-open (Linux) or open (macOS); the URL is always printed on stderr
// too, for when no browser can be started.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "codeflow:", err)
		os.Exit(1)
	}
}

type options struct {
	issuer, clientID, clientSecret, scope, browser string
	port                                           int
	timeout                                        time.Duration
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("codeflow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := getenv("GATEHOUSE_URL")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&o.issuer, "issuer", issuer, "Gatehouse's issuer URL [GATEHOUSE_URL]")
	fs.StringVar(&o.clientID, "client-id", getenv("CLIENT_ID"), "the app's client id [CLIENT_ID]")
	fs.StringVar(&o.clientSecret, "client-secret", getenv("CLIENT_SECRET"), "the app's client secret [CLIENT_SECRET]; empty for a public client")
	fs.StringVar(&o.scope, "scope", "profile:read", "space-separated scopes to ask for")
	fs.IntVar(&o.port, "port", 0, "loopback port for the redirect URI (0: any free port)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the browser to come back")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.clientID == "" {
		return o, errors.New("no client id: set -client-id or CLIENT_ID")
	}
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	o.browser = getenv("BROWSER")
	return o, nil
}

// metadata is the part of the RFC 8414 authorization server metadata this
// client needs.
type metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// discover reads the server's metadata. RFC 8414 §3.3: "The "issuer" value
// returned MUST be identical to the authorization server's issuer identifier
// value into which the well-known URI string was inserted to create the URL
// used to retrieve the metadata. If these values are not identical, the data
// contained in the response MUST NOT be used."
func discover(ctx context.Context, hc *http.Client, issuer string) (metadata, error) {
	var m metadata
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return m, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return m, fmt.Errorf("metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("metadata: %s from %s", resp.Status, req.URL)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("metadata: %w", err)
	}
	if m.Issuer != issuer {
		return m, fmt.Errorf("metadata names issuer %q, not %q", m.Issuer, issuer)
	}
	if m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" {
		return m, errors.New("metadata lacks the authorization or token endpoint")
	}
	return m, nil
}

// callback is what the authorization response carried.
type callback struct {
	code string
	err  error
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)

	m, err := discover(ctx, hc, o.issuer)
	if err != nil {
		return err
	}
	// RFC 8252 §7.3: "Native apps that are able to open a port on the
	// loopback network interface without needing special permissions ... can
	// use the loopback interface to receive the OAuth redirect."
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("callback listener: %w", err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"

	state, err := randomString()
	if err != nil {
		return err
	}
	verifier := oauth2.GenerateVerifier()
	style := oauth2.AuthStyleInHeader // client_secret_basic
	if o.clientSecret == "" {
		style = oauth2.AuthStyleInParams // a public client sends only client_id
	}
	conf := oauth2.Config{
		ClientID:     o.clientID,
		ClientSecret: o.clientSecret,
		RedirectURL:  redirect,
		Scopes:       strings.Fields(o.scope),
		Endpoint:     oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint, AuthStyle: style},
	}
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	got := make(chan callback, 1)
	srv := &http.Server{
		Handler:           callbackHandler(state, o.issuer, got),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Fprintf(stderr, "Sign in and allow access in your browser. If it did not open, visit:\n\n  %s\n\nWaiting for %s …\n", authURL, redirect)
	openBrowser(o.browser, authURL, stderr)

	var cb callback
	select {
	case cb = <-got:
	case <-ctx.Done():
		return fmt.Errorf("no authorization response on %s: %w", redirect, ctx.Err())
	}
	if cb.err != nil {
		return cb.err
	}
	tok, err := conf.Exchange(ctx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("token exchange: %w", err)
	}
	out := map[string]any{
		"access_token":  tok.AccessToken,
		"token_type":    tok.TokenType,
		"refresh_token": tok.RefreshToken,
		"expires_in":    tok.ExpiresIn,
		"scope":         tok.Extra("scope"),
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// callbackHandler accepts one authorization response on /callback and hands
// it over on got.
func callbackHandler(state, issuer string, got chan<- callback) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var cb callback
		switch {
		// RFC 6749 §10.12: the client "MUST implement CSRF protection for its
		// redirection URI" — the state must be the one this run sent.
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			http.Error(w, "state does not match this sign-in; start again", http.StatusBadRequest)
			return // not the response we wait for: keep waiting
		// RFC 9207 §2.4: "clients MUST compare the value of the iss
		// parameter to the issuer identifier of the authorization server
		// where the authorization request was sent".
		case q.Get("iss") != issuer:
			cb.err = fmt.Errorf("authorization response from issuer %q, expected %q", q.Get("iss"), issuer)
		case q.Get("error") != "":
			cb.err = fmt.Errorf("authorization refused: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			cb.err = errors.New("authorization response without a code")
		default:
			cb.code = q.Get("code")
		}
		select {
		case got <- cb:
		default: // a response was already taken
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Signed in. You can close this tab and return to the terminal."
		if cb.err != nil {
			msg = cb.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>codeflow</title><p>%s</p>\n", html.EscapeString(msg))
	})
	return mux
}

// openBrowser starts the user's browser on u without waiting for it.
// Failure is only reported: the URL is on stderr already.
func openBrowser(browser, u string, stderr io.Writer) {
	name := browser
	if name == "" {
		switch runtime.GOOS {
		case "darwin":
			name = "open"
		case "linux", "freebsd", "openbsd", "netbsd":
			name = "xdg-open"
		default:
			return
		}
	}
	cmd := exec.Command(name, u)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "could not start a browser (%v); open the URL above yourself\n", err)
		return
	}
	go cmd.Wait()
}

func randomString() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
