package bearer_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse/bearer"
)

// fakeGatehouse stands in for Gatehouse's introspection endpoint: one
// access token, granted cards:read.
func fakeGatehouse() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _, _ := r.BasicAuth(); id != "cards-api" || r.PostFormValue("token") != "gtha_example" {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprint(w, `{"active":true,"scope":"cards:read","client_id":"budget-app","sub":"user-42",
			"credential_kind":"access_token","exp":4102444800}`)
	}))
}

// A provider's API: validate every request's credential by introspection,
// require a scope per route, and read the principal in the handler.
func Example() {
	gatehouse := fakeGatehouse()
	defer gatehouse.Close()

	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint:     gatehouse.URL + "/oauth2/introspect",
		ClientID:     "cards-api",
		ClientSecret: "the-client-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := bearer.New(in, bearer.Options{Realm: "cards"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v0/me/cards", mw.Require("cards:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := bearer.FromContext(r.Context())
		fmt.Fprintf(w, "cards of %s, via %s (%s)", p.Subject, p.ClientID, p.Kind)
	})))

	req := httptest.NewRequest("GET", "/v0/me/cards", nil)
	req.Header.Set("Authorization", "Bearer gtha_example")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)
	// Output: 200 cards of user-42, via budget-app (access_token)
}

// Refusals carry the RFC 6750 challenge and a JSON error body.
func ExampleMiddleware_Require() {
	gatehouse := fakeGatehouse()
	defer gatehouse.Close()
	in, _ := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint: gatehouse.URL + "/oauth2/introspect", ClientID: "cards-api", ClientSecret: "the-client-secret",
	})
	mw, _ := bearer.New(in, bearer.Options{Realm: "cards"})
	withdraw := mw.Require("cards:read", "cards:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for _, authorization := range []string{"", "Bearer gtha_unknown", "Bearer gtha_example"} {
		req := httptest.NewRequest("POST", "/v0/me/cards/1/withdrawals", nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		withdraw.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
		fmt.Println(strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 401 Bearer realm="cards"
	// {"error":"unauthorized","error_description":"Authentication required: send Authorization: Bearer <token>."}
	// 401 Bearer realm="cards", error="invalid_token", error_description="The credential is invalid, expired or revoked."
	// {"error":"invalid_token","error_description":"The credential is invalid, expired or revoked."}
	// 403 Bearer realm="cards", error="insufficient_scope", error_description="The credential does not carry the scope this request needs: cards:read cards:write.", scope="cards:read cards:write"
	// {"error":"insufficient_scope","error_description":"The credential does not carry the scope this request needs: cards:read cards:write."}
}

// Validate JWT access tokens locally against the issuer's JWKS and send
// every other credential (opaque tokens, PATs, API keys) to introspection.
func ExampleNewJWTValidator() {
	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{
		Endpoint:     "https://auth.example.com/oauth2/introspect",
		ClientID:     "cards-api",
		ClientSecret: "the-client-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := bearer.NewJWTValidator(bearer.JWTOptions{
		Issuer:   "https://auth.example.com",  // "iss" must equal it
		Audience: "https://cards.example.com", // "aud" must contain it
		Fallback: in,
	})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := bearer.New(v, bearer.Options{Realm: "cards"})
	if err != nil {
		log.Fatal(err)
	}
	_ = mw.Require("cards:read")
}
