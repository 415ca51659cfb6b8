package adminapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

type fixture struct {
	e        *tt.Env
	h        *adminapi.Handler
	apps     *apps.Service
	url      string
	adminID  string
	userID   string
	adminPAT string // admin scope, owned by an administrator
	plainPAT string // the administrator's, without the admin scope
	userPAT  string // a user's
}

func newFixture(t *testing.T, st *sqlstore.Store) *fixture {
	e := tt.New(t, st, tt.Options{})
	admin := e.CreateAdmin("admin@example.com")
	user := e.CreateUser("user@example.com", false)
	mint := func(userID string, scopes []string) string {
		c, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: userID, Description: "t", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return c.Token
	}
	svc, err := apps.New(apps.Config{Store: st, Hasher: e.Hasher, Now: e.Clock.Now, Random: rand.Reader,
		Scopes: e.Scopes, APIKeys: e.APIKeys, OAuth: e.OAuth})
	if err != nil {
		t.Fatal(err)
	}
	h := adminapi.New(e.Identity.Admin(), e.Identity, e.PATs, e.OAuth, e.Auth, nil).WithApps(svc).WithWebhooks(newWebhooks(t, e)).WithAudit(newAuditLog(t, st)).WithActivity(newCounter(t, st, e.Clock.Now))
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{e: e, h: h, apps: svc, url: srv.URL, adminID: admin.ID, userID: user.ID,
		adminPAT: mint(admin.ID, []string{scope.Admin}), plainPAT: mint(admin.ID, nil), userPAT: mint(user.ID, nil)}
}

type result struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, token string) result {
	t.Helper()
	var headers []string
	if token != "" {
		headers = tt.Bearer(token)
	}
	return f.send(t, method, path, "", headers...)
}

// send makes a request with a JSON body ("" for none) and header pairs.
func (f *fixture) send(t *testing.T, method, path, body string, headers ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.url+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{req, res.StatusCode, res.Header, b}
}

func errorCode(r result) string {
	var e struct{ Error string }
	json.Unmarshal(r.body, &e)
	return e.Error
}

func TestNonAdminRefused(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open(t))
		for _, c := range []struct {
			name, token string
			status      int
			code        string
		}{
			{"no credential", "", 401, ""},
			{"user's PAT", f.userPAT, 403, "insufficient_scope"},
			{"administrator's PAT without the admin scope", f.plainPAT, 403, "insufficient_scope"},
			{"administrator's admin PAT", f.adminPAT, 200, ""},
		} {
			r := f.do(t, "GET", "/admin/users", c.token)
			if r.status != c.status || (c.code != "" && errorCode(r) != c.code) {
				t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
			}
		}
		// Basic email:password is not an admin credential here.
		req, _ := http.NewRequest("GET", f.url+"/admin/users", nil)
		req.SetBasicAuth("admin@example.com", tt.Password)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
			t.Errorf("Basic: %v %v, want 401", res.StatusCode, err)
		}
		// The role is checked on every use: demoted, the same PAT stops working.
		if err := f.e.Store.SetAdmin(context.Background(), f.adminID, false, f.e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if r := f.do(t, "GET", "/admin/users", f.adminPAT); r.status != 403 || errorCode(r) != "admin_required" {
			t.Errorf("demoted administrator's PAT: %d %s, want 403 admin_required", r.status, r.body)
		}
	})
}

func TestUserActionsAndPagination(t *testing.T) {
	f := newFixture(t, tt.OpenSQLite(t))
	for _, email := range []string{"carol@example.com", "dave@example.com", "erin@example.com"} {
		f.e.CreateUser(email, false)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		r := f.do(t, "GET", "/admin/users?limit=2&cursor="+cursor, f.adminPAT)
		var p adminapi.Page[adminapi.User]
		if r.status != 200 || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("page: %d %s", r.status, r.body)
		}
		for _, u := range p.Items {
			seen = append(seen, u.Email)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %q, want 5 users once each", seen)
	}
	r := f.do(t, "GET", "/admin/users?q=DAVE", f.adminPAT)
	var p adminapi.Page[adminapi.User]
	json.Unmarshal(r.body, &p)
	if len(p.Items) != 1 || p.Items[0].Email != "dave@example.com" {
		t.Fatalf("search: %s", r.body)
	}

	r = f.do(t, "POST", "/admin/users/"+f.userID+"/force-password-change", f.adminPAT)
	var u adminapi.User
	if r.status != 200 || json.Unmarshal(r.body, &u) != nil || !u.MustChangePassword {
		t.Fatalf("force-password-change: %d %s", r.status, r.body)
	}
	r = f.do(t, "POST", "/admin/users/"+f.userID+"/disable", f.adminPAT)
	if stored, _ := f.e.Store.UserByID(f.e.Ctx, f.userID); r.status != 200 || !stored.Disabled {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	// The disabled user's PAT is dead.
	if r := f.e.Do("GET", tt.WhoAmI, "", tt.Bearer(f.userPAT)...); r.Status != 401 {
		t.Fatalf("disabled user's PAT: %d", r.Status)
	}
}

// TestEveryRouteAnswersAsDocumented validates real responses of every route,
// success and error, against the OpenAPI document, and fails for a route
// that is mounted but not documented (or documented but not mounted).
func TestEveryRouteAnswersAsDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(adminapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
	f := newFixture(t, tt.OpenSQLite(t))
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	mounted := map[string]bool{}
	for _, r := range f.h.RouteList() {
		mounted[r.Method+" "+r.Path] = true
		if !documented[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not documented", r.Method, r.Path)
		}
	}
	for d := range documented {
		if !mounted[d] {
			t.Errorf("documented %s is not mounted", d)
		}
	}

	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	exercised := map[string]map[int]bool{}
	check := func(r result) {
		t.Helper()
		// The server's address is not in the document's servers.
		req := r.req.Clone(context.Background())
		req.URL.Scheme, req.URL.Host, req.Host = "", "", ""
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.req.Method, r.req.URL.Path, err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s → %d %s: %v", r.req.Method, r.req.URL.Path, r.status, r.body, err)
		}
		key := r.req.Method + " " + route.Path
		if exercised[key] == nil {
			exercised[key] = map[int]bool{}
		}
		exercised[key][r.status] = true
	}
	check(f.do(t, "GET", "/admin/users", f.adminPAT))
	check(f.do(t, "GET", "/admin/users?limit=0", f.adminPAT))
	check(f.do(t, "GET", "/admin/users", ""))
	check(f.do(t, "GET", "/admin/users", f.userPAT))
	// An app the user allowed, so the detail lists one.
	app := f.e.RegisterApp("Third", f.adminID, []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, scope.ProfileRead)
	if _, err := f.e.CodeFlowToken(app, f.userID, scope.ProfileRead); err != nil {
		t.Fatal(err)
	}
	shown := f.do(t, "GET", "/admin/users/"+f.userID, f.adminPAT)
	check(shown)
	var d adminapi.UserDetail
	if err := json.Unmarshal(shown.body, &d); err != nil || len(d.AuthorizedApps) != 1 || d.AuthorizedApps[0].Name != "Third" ||
		len(d.PATs) != 1 || d.Email != "user@example.com" {
		t.Errorf("user detail %s: %v", shown.body, err)
	}
	check(f.do(t, "GET", "/admin/users/nope", f.adminPAT))
	exerciseWebhooks(t, f, check)
	check(f.do(t, "GET", "/admin/audit?limit=1", f.adminPAT))
	check(f.do(t, "GET", "/admin/audit?cursor=%21", f.adminPAT))
	check(f.do(t, "GET", "/admin/audit", f.userPAT))
	check(f.do(t, "GET", "/admin/activity?days=1", f.adminPAT))
	check(f.do(t, "GET", "/admin/activity?days=0", f.adminPAT))
	check(f.do(t, "GET", "/admin/activity", f.userPAT))
	for r := range mounted {
		method, path, _ := strings.Cut(r, " ")
		if method != "POST" || !strings.HasPrefix(path, "/admin/users/") {
			continue
		}
		check(f.do(t, method, strings.Replace(path, "{id}", f.userID, 1), f.adminPAT))
		check(f.do(t, method, strings.Replace(path, "{id}", "nope", 1), f.adminPAT))
	}
	checkAppRoutes(t, f, check)
	for r := range mounted {
		codes := exercised[r]
		ok, bad := false, false
		for c := range codes {
			ok = ok || c < 300
			bad = bad || c >= 400
		}
		if !ok || !bad {
			t.Errorf("%s: exercised %v, want a success and an error", r, codes)
		}
	}
}
