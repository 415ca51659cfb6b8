package app_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// edgeEnv is a whole Gatehouse process (app.Open → Handler) on one backend,
// with a second connection that counts rows behind its back.
type edgeEnv struct {
	t       *testing.T
	app     *app.App
	srv     *httptest.Server
	raw     *sql.DB
	dialect string
	user    *store.User
	client  *store.Client
	secret  string
	cookie  string // a signed-in browser session
}

const edgePassword = "correct horse battery staple 42"

func openEdge(t *testing.T, backend string) *edgeEnv {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	var dsn, driver string
	switch backend {
	case "sqlite":
		dsn, driver = filepath.Join(t.TempDir(), "gatehouse.db"), "sqlite"
	case "postgres":
		var drop func() error
		var err error
		dsn, drop, err = postgres.NewSchema(ctx, pgtest.URL(t), "edgetest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		driver = "pgx"
	}
	vars := map[string]string{
		"GATEHOUSE_DATABASE":          dsn,
		"GATEHOUSE_MASTER_KEY":        base64.StdEncoding.EncodeToString(key),
		"GATEHOUSE_MIGRATE":           "always",
		"GATEHOUSE_ISSUER":            "http://127.0.0.1",
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_TIME":       "1",
	}
	a, srv := openAppWith(t, vars)
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })

	e := &edgeEnv{t: t, app: a, srv: srv, raw: raw, dialect: backend}
	e.user, err = a.Identity.CreateUser(ctx, identity.NewUser{Email: "ada@example.com", Name: "Ada", Password: edgePassword})
	if err != nil {
		t.Fatal(err)
	}
	e.client, e.secret, err = a.OAuth.CreateClient(ctx, oauth.NewClient{
		Name: "Demo", OwnerID: e.user.ID, RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code", "client_credentials"}, Scopes: []string{"profile:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Consent given earlier, so a signed-in authorization request goes
	// straight to issuing a code (where a grant is written).
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := a.Store.UpsertConsent(ctx, &store.Consent{UserID: e.user.ID, ClientID: e.client.ID, Scopes: []string{"profile:read"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.cookie, _, err = a.Identity.StartSession(ctx, e.user.ID, false, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rows counts the rows of every table.
func (e *edgeEnv) rows() map[string]int {
	e.t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose%'`
	if e.dialect == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE 'goose%'`
	}
	names, err := e.raw.Query(q)
	if err != nil {
		e.t.Fatal(err)
	}
	var tables []string
	for names.Next() {
		var n string
		names.Scan(&n)
		tables = append(tables, n)
	}
	names.Close()
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		q := `SELECT COUNT(*) FROM ` + tb
		if tb == "throttle" {
			// A correct Basic sign-in reserves an attempt on its address
			// and refunds it: the row stays with nothing counted.
			q += ` WHERE failures > 0`
		}
		if tb == "audit_log" {
			// Every sign-in, refused or not, is recorded: that is not the
			// kind of write the table looks for.
			q += ` WHERE type <> 'sign_in'`
		}
		if err := e.raw.QueryRow(q).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// req is one request of the table. header pairs may hold bytes that are not
// UTF-8 (net/http sends obs-text as is).
type req struct {
	method, path, body, contentType string
	header                          []string
	basic                           [2]string // email, password (raw bytes)
	session                         bool      // send the signed-in cookie
	csrfFrom                        string    // GET this page first and add its csrf_token to the form
}

func (e *edgeEnv) do(r req) *http.Response {
	e.t.Helper()
	jar := &cookieJar{}
	if r.session {
		jar.add(&http.Cookie{Name: "gh_session", Value: e.cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body := r.body
	if r.csrfFrom != "" {
		page := e.send(client, jar, http.MethodGet, r.csrfFrom, "", "", nil, [2]string{})
		b, _ := io.ReadAll(page.Body)
		page.Body.Close()
		m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(b)
		if m == nil {
			e.t.Fatalf("no csrf_token on %s (%d)", r.csrfFrom, page.StatusCode)
		}
		body += "&csrf_token=" + url.QueryEscape(string(m[1]))
	}
	return e.send(client, jar, r.method, r.path, body, r.contentType, r.header, r.basic)
}

func (e *edgeEnv) send(client *http.Client, jar *cookieJar, method, path, body, ct string, header []string, basic [2]string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	hr, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		hr.Header.Set(header[i], header[i+1])
	}
	if basic[0] != "" {
		hr.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic[0]+":"+basic[1])))
	}
	for _, c := range jar.cookies {
		hr.AddCookie(c)
	}
	res, err := client.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		jar.add(c)
	}
	return res
}

type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) add(c *http.Cookie) {
	for i, old := range j.cookies {
		if old.Name == c.Name {
			j.cookies[i] = c
			return
		}
	}
	j.cookies = append(j.cookies, c)
}

const form = "application/x-www-form-urlencoded"

// TestInvalidTextAtTheEdge sends text PostgreSQL's TEXT refuses (invalid
// UTF-8, NUL) to every place a request's text reaches the database. Both
// backends must answer the same precise 4xx in the endpoint's own format and
// write nothing; header values are sanitised instead, so sign-in still works.
func TestInvalidTextAtTheEdge(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := openEdge(t, backend)
			authz := "/oauth2/authorize?response_type=code&client_id=" + e.client.ID +
				"&redirect_uri=" + url.QueryEscape("https://app.example/cb") + "&scope=profile:read&state=s1"
			adaBasic := [2]string{"ada@example.com", edgePassword}
			cases := []struct {
				name string
				req  req
				// want: status, and for JSON the "error" member; "page"
				// means an HTML page and no redirect; "redirect" means a
				// redirect to the client with error=invalid_request.
				status int
				want   string
				writes map[string]int // rows a case may add
			}{
				{"token client_id 0xFF", req{method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=%FF&client_secret=x", contentType: form}, 400, "invalid_request", nil},
				{"token client_id NUL", req{method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=%00", contentType: form}, 400, "invalid_request", nil},
				{"token code 0xFF", req{method: "POST", path: "/oauth2/token", body: "grant_type=authorization_code&code=%FF&redirect_uri=x", contentType: form, basic: [2]string{e.client.ID, e.secret}}, 400, "invalid_request", nil},
				{"token Basic client_id 0xFF", req{method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", contentType: form, basic: [2]string{"%FF", "x"}}, 401, "invalid_client", nil},
				{"introspect client_id 0xFF", req{method: "POST", path: "/oauth2/introspect", body: "token=x&client_id=%FF&client_secret=x", contentType: form}, 400, "invalid_request", nil},
				{"introspect client_id NUL", req{method: "POST", path: "/oauth2/introspect", body: "token=x&client_id=%00", contentType: form}, 400, "invalid_request", nil},
				{"revoke client_id 0xFF", req{method: "POST", path: "/oauth2/revoke", body: "token=x&client_id=%FF", contentType: form}, 400, "invalid_request", nil},
				{"revoke client_id NUL", req{method: "POST", path: "/oauth2/revoke", body: "token=x&client_id=%00", contentType: form}, 400, "invalid_request", nil},
				{"authorize client_id 0xFF", req{method: "GET", path: "/oauth2/authorize?response_type=code&client_id=%FF&state=s&scope=profile:read", session: true}, 400, "page", nil},
				{"authorize client_id NUL", req{method: "GET", path: "/oauth2/authorize?response_type=code&client_id=%00&state=s&scope=profile:read"}, 400, "page", nil},
				{"authorize path client_id 0xFF", req{method: "GET", path: "/authorize/%FF?state=s&scope=profile:read", session: true}, 400, "page", nil},
				{"authorize redirect_uri 0xFF", req{method: "GET", path: "/oauth2/authorize?response_type=code&client_id=" + e.client.ID + "&redirect_uri=https://app.example/cb%FF&state=s&scope=profile:read", session: true}, 400, "page", nil},
				{"authorize nonce 0xFF (no orphan grant)", req{method: "GET", path: authz + "&nonce=%FF", session: true}, 302, "redirect", nil},
				{"authorize nonce NUL (no orphan grant)", req{method: "GET", path: authz + "&nonce=%00", session: true}, 302, "redirect", nil},
				{"consent form nonce 0xFF", req{method: "POST", path: "/oauth2/consent", body: strings.TrimPrefix(authz, "/oauth2/authorize?") + "&nonce=%FF&decision=allow", contentType: form, session: true, csrfFrom: "/account"}, 400, "page", nil},
				{"Basic email with NUL", req{method: "GET", path: "/v0/me", basic: [2]string{"ada\x00@example.com", edgePassword}}, 401, "invalid_credentials", nil},
				{"Basic email with 0xFF", req{method: "GET", path: "/v0/me", basic: [2]string{"ada\xff@example.com", edgePassword}}, 401, "invalid_credentials", nil},
				{"bearer token with 0xFF", req{method: "GET", path: "/v0/me", header: []string{"Authorization", "Bearer gthp_\xff"}}, 401, "invalid_token", nil},
				{"API app id 0xFF", req{method: "GET", path: "/v0/apps/%FF/keys", basic: adaBasic}, 400, "invalid_request", nil},
				{"API app id NUL", req{method: "POST", path: "/v0/apps/%00/keys", body: `{"name":"k","scopes":["profile:read"]}`, contentType: "application/json", basic: adaBasic}, 400, "invalid_request", nil},
				{"API key id NUL", req{method: "DELETE", path: "/v0/apps/" + e.client.ID + "/keys/%00", basic: adaBasic}, 400, "invalid_request", nil},
				{"API key name NUL", req{method: "POST", path: "/v0/apps/" + e.client.ID + "/keys", body: `{"name":"k\u0000","scopes":["profile:read"]}`, contentType: "application/json", basic: adaBasic}, 400, "invalid_request", nil},
				{"API PAT description NUL", req{method: "POST", path: "/v0/me/tokens", body: `{"description":"d\u0000"}`, contentType: "application/json", basic: adaBasic}, 400, "invalid_request", nil},
				{"API PAT id 0xFF", req{method: "DELETE", path: "/v0/me/tokens/%FF", basic: adaBasic}, 404, "not_found", nil},
				{"sign-in email NUL", req{method: "POST", path: "/login", body: "email=ada%00%40example.com&password=" + url.QueryEscape(edgePassword), contentType: form, csrfFrom: "/login"}, 400, "page", nil},
				{"sign-in password 0xFF", req{method: "POST", path: "/login", body: "email=ada%40example.com&password=%FF", contentType: form, csrfFrom: "/login"}, 400, "page", nil},
				{"sign-up email 0xFF", req{method: "POST", path: "/signup", body: "email=b%FF%40example.com&name=B&password=a+long+enough+pass+phrase&password_confirm=a+long+enough+pass+phrase", contentType: form, csrfFrom: "/signup"}, 400, "page", nil},
				{"sign-up name NUL", req{method: "POST", path: "/signup", body: "email=b%40example.com&name=B%00&password=a+long+enough+pass+phrase&password_confirm=a+long+enough+pass+phrase", contentType: form, csrfFrom: "/signup"}, 400, "page", nil},
				{"PAT page description NUL", req{method: "POST", path: "/account/tokens", body: "description=d%00&password=" + url.QueryEscape(edgePassword), contentType: form, session: true, csrfFrom: "/account/tokens"}, 400, "page", nil},
				{"authorized app id 0xFF", req{method: "POST", path: "/account/apps/%FF/revoke", contentType: form, session: true, csrfFrom: "/account/apps"}, 400, "page", nil},
				// A header is sanitised, not refused: the sign-in succeeds
				// and its session is stored.
				{"sign-in User-Agent 0xFF", req{method: "POST", path: "/login", body: "email=ada%40example.com&password=" + url.QueryEscape(edgePassword), contentType: form, csrfFrom: "/login", header: []string{"User-Agent", "Mozilla/5.0 \xff\xfe Firefox/140.0"}}, 303, "", map[string]int{"sessions": 1, "known_devices": 1}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					parent := e.t
					e.t = t // helpers fail this subtest
					defer func() { e.t = parent }()
					before := e.rows()
					res := e.do(c.req)
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != c.status {
						t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, body)
					}
					loc := res.Header.Get("Location")
					switch c.want {
					case "":
					case "page":
						if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || loc != "" {
							t.Fatalf("want an error page, got %q, Location %q: %s", res.Header.Get("Content-Type"), loc, body)
						}
					case "redirect":
						u, err := url.Parse(loc)
						if err != nil || !strings.HasPrefix(loc, "https://app.example/cb?") || u.Query().Get("error") != "invalid_request" || u.Query().Has("code") {
							t.Fatalf("want a redirect with error=invalid_request, got Location %q", loc)
						}
					default:
						var eb struct{ Error string }
						if err := json.Unmarshal(body, &eb); err != nil || eb.Error != c.want {
							t.Fatalf("error %q, want %q: %s", eb.Error, c.want, body)
						}
					}
					after := e.rows()
					for tb, n := range after {
						if n != before[tb]+c.writes[tb] {
							t.Errorf("table %s: %d rows, want %d", tb, n, before[tb]+c.writes[tb])
						}
					}
				})
			}
			// The session of the sanitised sign-in has the agent with U+FFFD.
			list, err := e.app.Identity.ListSessions(context.Background(), e.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, s := range list {
				found = found || s.UserAgent == "Mozilla/5.0 \uFFFD\uFFFD Firefox/140.0"
			}
			if !found {
				t.Errorf("no session with the sanitised User-Agent among %d", len(list))
			}
		})
	}
}

// openAppWith opens a whole Gatehouse process configured by vars (setting
// environment variables), then mods (the configuration file's sections),
// behind an httptest server, both closed with t.
func openAppWith(t *testing.T, vars map[string]string, mods ...func(*config.Config)) (*app.App, *httptest.Server) {
	t.Helper()
	cfg, err := config.Load(nil, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		m(&cfg)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.ServeSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler("test"))
	t.Cleanup(srv.Close)
	return a, srv
}
