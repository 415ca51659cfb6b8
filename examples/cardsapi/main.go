// Command cardsapi is a tiny API protected by Gatehouse credentials with the
// bearer middleware: the way an API provider's own service accepts OAuth
// access tokens, personal access tokens and API keys issued by Gatehouse.
//
//	GET /v0/me/cards                   requires cards:read
//	GET /api/profiles/v1/users/me.json requires profile:read
//
// The API is a resource server: register it with Gatehouse as a confidential
// client, whose id and secret authenticate its introspection calls (RFC
// 7662). Its routes need the scopes above in Gatehouse's scope catalog;
// profile:read is there, cards:read is a provider scope to add.
//
//	gatehouse client create --name "Cards API" --owner ada@example.com \
//	  --grant-type client_credentials --scope profile:read --output json
//	GATEHOUSE_URL=http://127.0.0.1:8080 CLIENT_ID=… CLIENT_SECRET=gths_… ADDR=127.0.0.1:9090 \
//	  go run ./examples/cardsapi
//	curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:9090/api/profiles/v1/users/me.json
//	curl -H "X-API-Key: $API_KEY" http://127.0.0.1:9090/v0/me/cards
//
// Settings (environment):
//
//	GATEHOUSE_URL  Gatehouse's issuer URL; introspection is GATEHOUSE_URL/oauth2/introspect (required)
//	CLIENT_ID      this API's client id at Gatehouse (required)
//	CLIENT_SECRET  its client secret (required)
//	ADDR           listen address (default 127.0.0.1:9090)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/bearer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, log, nil); err != nil {
		log.Error("cardsapi", "err", err)
		os.Exit(1)
	}
}

// run serves the API until ctx ends. ready, when not nil, receives the
// listening address.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger, ready chan<- string) error {
	h, err := newHandler(getenv, log)
	if err != nil {
		return err
	}
	addr := getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:9090"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	log.Info("cardsapi listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler builds the API from its settings.
func newHandler(getenv func(string) string, log *slog.Logger) (http.Handler, error) {
	base := strings.TrimRight(getenv("GATEHOUSE_URL"), "/")
	id, secret := getenv("CLIENT_ID"), getenv("CLIENT_SECRET")
	if base == "" || id == "" || secret == "" {
		return nil, errors.New("set GATEHOUSE_URL, CLIENT_ID and CLIENT_SECRET")
	}
	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint: base + "/oauth2/introspect", ClientID: id, ClientSecret: secret,
	})
	if err != nil {
		return nil, err
	}
	mw, err := bearer.New(in, bearer.Options{Realm: "cardsapi", Logger: log})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v0/me/cards", mw.Require("cards:read")(http.HandlerFunc(cards)))
	mux.Handle("GET /api/profiles/v1/users/me.json", mw.Require("profile:read")(http.HandlerFunc(me)))
	return mux, nil
}

// Card is one entry of GET /v0/me/cards.
type Card struct {
	ID       string `json:"id"`
	Label    string `json:"label"`
	Currency string `json:"currency"`
	Balance  string `json:"balance"`
}

func cards(w http.ResponseWriter, r *http.Request) {
	p, _ := bearer.FromContext(r.Context())
	writeJSON(w, []Card{
		{ID: p.Subject + "-usd", Label: "Dollars", Currency: "USD", Balance: "12.50"},
		{ID: p.Subject + "-btc", Label: "Bitcoin", Currency: "BTC", Balance: "0.0021"},
	})
}

// Me is the answer of GET /api/profiles/v1/users/me.json: who the
// credential acts for, as Gatehouse described it.
type Me struct {
	ID         string   `json:"id"`
	ClientID   string   `json:"client_id,omitempty"`
	Credential string   `json:"credential,omitempty"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  string   `json:"expires_at,omitempty"`
}

func me(w http.ResponseWriter, r *http.Request) {
	p, _ := bearer.FromContext(r.Context())
	m := Me{ID: p.Subject, ClientID: p.ClientID, Credential: p.Kind, Scopes: p.Scopes}
	if !p.ExpiresAt.IsZero() {
		m.ExpiresAt = p.ExpiresAt.UTC().Format(time.RFC3339)
	}
	writeJSON(w, m)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v) // a write error means the client left
}
