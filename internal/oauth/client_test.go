package oauth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// testCatalog is the built-in catalog plus an operator's API: a delegable
// scope, a sensitive one, and one only app-level credentials may carry.
func testCatalog(t testing.TB) *scope.Catalog {
	t.Helper()
	cat, err := scope.New([]config.ScopeSpec{
		{Name: "cards:read", Description: "See your cards", Group: "Cards"},
		{Name: "transactions:write", Description: "Move money", Group: "Money", Sensitive: true},
		{Name: "reports:export", Description: "Export reports", Carriers: []string{"app"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestValidateClient(t *testing.T) {
	good := func() *store.Client {
		return &store.Client{
			Name: "App", OwnerID: "u1", Type: store.ClientConfidential, Status: store.ClientActive,
			RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
			Scopes:       []string{scope.ProfileRead},
		}
	}
	tests := []struct {
		name   string
		mutate func(c *store.Client)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(c *store.Client) {}, ""},
		{"public code client", func(c *store.Client) { c.Type = store.ClientPublic }, ""},
		{"client_credentials without redirect URIs", func(c *store.Client) {
			c.GrantTypes, c.RedirectURIs = []string{GrantClientCredentials}, nil
		}, ""},
		{"implicit", func(c *store.Client) { c.GrantTypes = []string{GrantImplicit} }, ""},
		{"no name", func(c *store.Client) { c.Name = "  " }, "name is required"},
		{"long name", func(c *store.Client) { c.Name = strings.Repeat("x", MaxClientNameLen+1) }, "at most"},
		{"control char in name", func(c *store.Client) { c.Name = "a\x07b" }, "control"},
		{"no owner", func(c *store.Client) { c.OwnerID = "" }, "owner"},
		{"bad type", func(c *store.Client) { c.Type = "secret" }, "type"},
		{"bad status", func(c *store.Client) { c.Status = "gone" }, "status"},
		{"no grant types", func(c *store.Client) { c.GrantTypes = nil }, "grant type"},
		{"unknown grant type", func(c *store.Client) { c.GrantTypes = []string{"password"} }, "unknown grant type"},
		{"duplicate grant type", func(c *store.Client) { c.GrantTypes = []string{GrantAuthorizationCode, GrantAuthorizationCode} }, "twice"},
		{"refresh without code", func(c *store.Client) { c.GrantTypes = []string{GrantRefreshToken, GrantClientCredentials} }, "refresh_token grant needs"},
		{"public client_credentials", func(c *store.Client) {
			c.Type, c.GrantTypes = store.ClientPublic, []string{GrantClientCredentials}
		}, "public client cannot use client_credentials"},
		{"code without redirect URI", func(c *store.Client) { c.RedirectURIs = nil }, "redirect URI is required"},
		{"bad redirect URI", func(c *store.Client) { c.RedirectURIs = []string{"http://localhost/cb"} }, "localhost"},
		{"duplicate redirect URI", func(c *store.Client) { c.RedirectURIs = []string{"https://a.example/", "https://a.example/"} }, "twice"},
		{"no scopes", func(c *store.Client) { c.Scopes = nil }, "scope is required"},
		{"unknown scope", func(c *store.Client) { c.Scopes = []string{"superuser"} }, "unknown scope"},
		{"administrator-only scope", func(c *store.Client) { c.Scopes = []string{"admin"} }, "no app can be registered with it"},
		{"operator scope", func(c *store.Client) { c.Scopes = []string{"cards:read", scope.ProfileRead} }, ""},
		{"sensitive scope, not by an administrator", func(c *store.Client) { c.Scopes = []string{"transactions:write"} }, "only an administrator"},
		{"app-only operator scope on a code client", func(c *store.Client) { c.Scopes = []string{"reports:export"} }, "carriers do not include delegated"},
		{"app-only operator scope on a client_credentials client", func(c *store.Client) {
			c.Scopes, c.GrantTypes, c.RedirectURIs = []string{"reports:export"}, []string{GrantClientCredentials}, nil
		}, ""},
		{"tiny access TTL", func(c *store.Client) { c.AccessTTL = time.Second }, "access token lifetime"},
		{"huge refresh TTL", func(c *store.Client) { c.RefreshTTL = 10 * 366 * 24 * time.Hour }, "refresh token lifetime"},
	}
	cat := testCatalog(t)
	for _, tt := range tests {
		c := good()
		tt.mutate(c)
		err := ValidateClient(c, cat, false)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	// An administrator may register a client with a sensitive scope.
	c := good()
	c.Scopes = []string{"transactions:write", "cards:read"}
	if err := ValidateClient(c, cat, true); err != nil {
		t.Errorf("sensitive scope by an administrator: %v", err)
	}
	// Every problem is reported at once.
	c = good()
	c.Name, c.OwnerID, c.Scopes = "", "", []string{"nope"}
	if err := ValidateClient(c, cat, false); err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Errorf("want three problems, got %v", err)
	}
}

func TestParsePrompt(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"none", []string{"none"}, true},
		{"login consent", []string{"login", "consent"}, true},
		{"consent consent", []string{"consent"}, true},
		{"select_account", []string{"select_account"}, true},
		{"none consent", nil, false},
		{"create", nil, false},
		{"NONE", nil, false},
	}
	for _, tt := range tests {
		got, err := parsePrompt(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !slices.Equal(got, tt.want)) {
			t.Errorf("parsePrompt(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestParseAuthorizeRequestRoundTrip(t *testing.T) {
	r := AuthorizeRequest{ClientID: "c", RedirectURI: "https://a/cb", ResponseType: "code", Scope: "", ScopeSent: true, State: "s&t=1",
		CodeChallenge: "x", CodeChallengeMethod: "S256", Prompt: "login", Nonce: "n", Intention: "signup"}
	got := ParseAuthorizeRequest(r.Values())
	if got.ClientID != r.ClientID || got.State != r.State || !got.ScopeSent || got.Intention != "signup" || len(got.Repeated) != 0 {
		t.Fatalf("%+v", got)
	}
}
