package authn_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
)

func TestAPIKeyHeader(t *testing.T) {
	a, err := authn.New(authn.Config{Issuer: "http://127.0.0.1"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := credential.Generate(rand.Reader, credential.APIKey, "")
	patTok, _ := credential.Generate(rand.Reader, credential.PAT, "")
	a.RegisterBearer(credential.APIKey, authn.BearerFunc(func(ctx context.Context, tok string, r *http.Request) (*authn.Principal, error) {
		if tok != key {
			return nil, authn.ErrInvalidToken
		}
		return &authn.Principal{UserID: "owner", ClientID: "app", Method: authn.MethodAPIKey, Scopes: []string{}}, nil
	}))
	h := a.APIKeyHeader(a.Require("")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "" {
			t.Error("X-API-Key passed on")
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	cases := []struct {
		name    string
		target  string
		headers [][2]string
		status  int
	}{
		{"x-api-key", "/", [][2]string{{"X-API-Key", key}}, 204},
		{"bearer", "/", [][2]string{{"Authorization", "Bearer " + key}}, 204},
		{"unknown key", "/", [][2]string{{"X-API-Key", "gthk_" + key[5:len(key)-1] + "x"}}, 401},
		{"PAT in X-API-Key", "/", [][2]string{{"X-API-Key", patTok}}, 401},
		{"both", "/", [][2]string{{"X-API-Key", key}, {"Authorization", "Bearer " + key}}, 400},
		{"twice", "/", [][2]string{{"X-API-Key", key}, {"X-API-Key", key}}, 400},
		{"query api_key", "/?api_key=" + key, nil, 400},
		{"query apikey", "/?x=1&apikey=" + key, [][2]string{{"X-API-Key", key}}, 400},
		{"none", "/", nil, 401},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.target, nil)
		for _, h := range c.headers {
			r.Header.Add(h[0], h[1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
}
