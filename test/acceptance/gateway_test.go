package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// gatewayRoutes are the protected API's routes and the scopes each needs:
// seed 004's cards need the operator's cards:read (declared in the
// configuration file below, with accounts:read), seed 000's profile the
// built-in profile:read. The credentials below are issued with the union.
var gatewayRoutes = []struct {
	Method, Path string
	Scopes       []string
}{
	{"GET", "/v0/me/cards", []string{"cards:read"}},
	{"GET", "/api/profiles/v1/users/me.json", []string{"profile:read"}},
}

func gatewayScopes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range gatewayRoutes {
		for _, s := range r.Scopes {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// gatewayConfig is the Gatehouse configuration file of the test: the routes
// above, a public route, and the proxy trusted for X-Forwarded-For.
func gatewayConfig() string {
	var b strings.Builder
	b.WriteString("trusted_proxies: 127.0.0.1\n")
	b.WriteString("scopes:\n")
	b.WriteString("  - {name: accounts:read, description: See your accounts and their balances, group: Accounts}\n")
	b.WriteString("  - {name: cards:read, description: See your cards, group: Cards}\n")
	b.WriteString("gateway_routes:\n")
	for _, r := range gatewayRoutes {
		fmt.Fprintf(&b, "  - method: %s\n    path: %s\n    scopes: [%s]\n", r.Method, r.Path, strings.Join(r.Scopes, ", "))
	}
	b.WriteString("  - method: GET\n    path: /v0/ticker/{pair}\n    public: true\n")
	return b.String()
}

// proxyKind is one reverse proxy under test.
type proxyKind struct {
	name   string
	binary string
	// start runs the proxy in front of gatehouseAddr and upstreamAddr, from
	// the shipped configuration, and returns its base URL.
	start func(t *testing.T, bin, gatehouseAddr, upstreamAddr string) string
}

var proxies = []proxyKind{
	{"nginx", "nginx", startNginx},
	{"caddy", "caddy", startCaddy},
}

// requireTool finds a proxy binary; with CI=true a missing one fails the test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if _, statErr := os.Stat(filepath.Join(dir, name)); statErr == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's %s (.ci/run)", name, name)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, name)
	}
	return path
}

// TestGatewayBehindProxies runs the seed calls of the API provider's
// documentation verbatim through real nginx and Caddy, started from
// deploy/, in front of a small upstream API, with Gatehouse deciding.
func TestGatewayBehindProxies(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { gatewayBehindProxies(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		pgURL := pgtest.URL(t)
		dsn, drop, err := postgres.NewSchema(context.Background(), pgURL, "gateway")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		key := make([]byte, 32)
		rand.Read(key)
		gatewayBehindProxies(t, []string{"GATEHOUSE_DATABASE=" + dsn, "GATEHOUSE_MASTER_KEY=" + base64Std(key), "GATEHOUSE_MIGRATE=always"})
	})
}

func gatewayBehindProxies(t *testing.T, env []string) {
	work := t.TempDir()
	cfgPath := filepath.Join(work, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(gatewayConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "GATEHOUSE_CONFIG="+cfgPath)
	cli := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		return out
	}
	addr := freeAddr(t)
	base := "http://" + addr
	p := start(t, work, append(env, "GATEHOUSE_ADDR="+addr), "serve")
	waitReady(t, p, base, 20*time.Second)

	const email, password = "ada@example.com", "correct horse battery staple"
	cli(password, "user", "create", "--email", email, "--name", "Ada", "--password-stdin")
	const redirect = "http://127.0.0.1:9/callback" // never fetched: we read the Location header
	var app struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	args := []string{"client", "create", "--name", "Cards App", "--owner", email, "--redirect-uri", redirect,
		"--grant-type", "authorization_code", "--grant-type", "client_credentials", "--output", "json"}
	for _, s := range gatewayScopes() {
		args = append(args, "--scope", s)
	}
	if err := json.Unmarshal(cli("", args...), &app); err != nil {
		t.Fatal(err)
	}
	userID := userIDOf(t, base, email, password)

	// The upstream API: it echoes what the proxy forwarded, and counts calls.
	var upstreamCalls atomic.Int64
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamCalls.Add(1)
		out := map[string]string{"path": r.URL.Path, "accept": r.Header.Get("Accept")}
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Gatehouse-") {
				out[k] = r.Header.Get(k)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go upstream.Serve(ln)
	t.Cleanup(func() { upstream.Close() })

	webToken := webFlowToken(t, base, app.ID, app.Secret, redirect, email, password)
	ccToken := clientCredentialsToken(t, base, app.ID, app.Secret)
	pat := createPAT(t, base, email, password)
	scopes := strings.Join(gatewayScopes(), " ")

	for _, px := range proxies {
		t.Run(px.name, func(t *testing.T) {
			bin := requireTool(t, px.binary)
			front := px.start(t, bin, addr, ln.Addr().String())
			call := func(method, path string, headers ...string) (*http.Response, map[string]string) {
				t.Helper()
				req, _ := http.NewRequest(method, front+path, nil)
				for i := 0; i+1 < len(headers); i += 2 {
					req.Header.Add(headers[i], headers[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				var echo map[string]string
				if resp.StatusCode == http.StatusOK {
					if err := json.Unmarshal(body, &echo); err != nil {
						t.Fatalf("%s %s: 200 but not the upstream's answer: %s", method, path, body)
					}
				}
				return resp, echo
			}
			expectOK := func(what string, resp *http.Response, echo map[string]string, want map[string]string) {
				t.Helper()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d, want 200 (WWW-Authenticate %q)", what, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
				for k, v := range want {
					if echo[k] != v {
						t.Errorf("%s: upstream saw %s = %q, want %q (all: %v)", what, k, echo[k], v, echo)
					}
				}
			}

			// GET /v0/me/cards with a token from the web (authorization code) flow.
			resp, echo := call("GET", "/v0/me/cards", "Authorization", "Bearer "+webToken)
			expectOK("web-flow token", resp, echo, map[string]string{
				"path": "/v0/me/cards", "X-Gatehouse-Subject": userID, "X-Gatehouse-Client": app.ID,
				"X-Gatehouse-Credential-Kind": "access_token", "X-Gatehouse-Scopes": scopes, "X-Gatehouse-Email": email,
			})
			// … from client credentials: the app acting as its owner.
			resp, echo = call("GET", "/v0/me/cards", "Authorization", "Bearer "+ccToken)
			expectOK("client_credentials token", resp, echo, map[string]string{
				"X-Gatehouse-Subject": userID, "X-Gatehouse-Client": app.ID, "X-Gatehouse-Credential-Kind": "access_token",
			})
			// … with a personal access token.
			resp, echo = call("GET", "/v0/me/cards", "Authorization", "Bearer "+pat)
			expectOK("PAT", resp, echo, map[string]string{
				"X-Gatehouse-Subject": userID, "X-Gatehouse-Client": "", "X-Gatehouse-Credential-Kind": "pat",
			})
			// GET /api/profiles/v1/users/me.json with a Bearer token and Accept: application/json.
			resp, echo = call("GET", "/api/profiles/v1/users/me.json", "Authorization", "Bearer "+webToken, "Accept", "application/json")
			expectOK("me.json", resp, echo, map[string]string{
				"path": "/api/profiles/v1/users/me.json", "accept": "application/json", "X-Gatehouse-Subject": userID,
			})

			// -u email:password -H 'OTP-Token: …' for an account with two-factor.
			otpEmail := "otp-" + px.name + "@example.com"
			cli(password, "user", "create", "--email", otpEmail, "--password-stdin")
			seed := enrolTOTP(t, base, otpEmail, password)
			basic := "Basic " + base64Std([]byte(otpEmail+":"+password))
			resp, _ = call("GET", "/v0/me/cards", "Authorization", basic)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("OTP-Token") != "Required" ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("password without OTP-Token: %d, OTP-Token %q, WWW-Authenticate %q; want 401, Required, Basic",
					resp.StatusCode, resp.Header.Get("OTP-Token"), resp.Header.Get("WWW-Authenticate"))
			}
			// The code of the next time step: enrolment used the current one,
			// and each code is accepted once.
			code, err := totp.GenerateCode(seed, time.Now().Add(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			resp, echo = call("GET", "/v0/me/cards", "Authorization", basic, "OTP-Token", code)
			expectOK("password + OTP-Token", resp, echo, map[string]string{
				"X-Gatehouse-Credential-Kind": "password", "X-Gatehouse-Scopes": "*", "X-Gatehouse-Email": otpEmail,
			})

			// Refusals come back with their challenge, and never reach the API.
			before := upstreamCalls.Load()
			resp, _ = call("GET", "/v0/me/cards")
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no credential: %d, WWW-Authenticate %q; want 401 Bearer", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			resp, _ = call("GET", "/v0/me/cards", "Authorization", "Bearer "+pat+"x")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("bad token: %d, WWW-Authenticate %q; want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			resp, _ = call("GET", "/v0/admin/users", "Authorization", "Bearer "+webToken)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("route without a rule: %d, want 403", resp.StatusCode)
			}
			resp, _ = call("DELETE", "/v0/me/cards", "Authorization", "Bearer "+webToken)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("method without a rule: %d, want 403", resp.StatusCode)
			}
			resp, _ = call("GET", "/v0/ticker/../me/cards")
			if resp.StatusCode == http.StatusOK {
				t.Errorf("dot segments under a public route reached the API")
			}
			if n := upstreamCalls.Load() - before; n != 0 {
				t.Errorf("%d refused requests reached the upstream API", n)
			}

			// A public route, with a forged identity header: the API gets the
			// request, never the forged header.
			resp, echo = call("GET", "/v0/ticker/BTC-USD", "X-Gatehouse-Subject", "someone-else", "X-Gatehouse-Credential-Kind", "password")
			expectOK("public route", resp, echo, map[string]string{"X-Gatehouse-Subject": "", "X-Gatehouse-Credential-Kind": ""})
			// A forged identity header next to a real credential is replaced.
			resp, echo = call("GET", "/v0/me/cards", "Authorization", "Bearer "+pat, "X-Gatehouse-Subject", "someone-else")
			expectOK("forged subject with a PAT", resp, echo, map[string]string{"X-Gatehouse-Subject": userID})
		})
	}
}

// ---------------------------------------------------------------- proxies

// fromDeploy reads a shipped proxy configuration and replaces its example
// addresses; each must occur, so the test breaks if the file changes shape.
func fromDeploy(t *testing.T, path string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s no longer contains %q", path, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

func startNginx(t *testing.T, bin, gatehouseAddr, upstreamAddr string) string {
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // workers may run as nobody when the test runs as root
	front := freeAddr(t)
	site := fromDeploy(t, "deploy/nginx/gatehouse.conf",
		"server 127.0.0.1:8080;", "server "+gatehouseAddr+";",
		"server 127.0.0.1:9000;", "server "+upstreamAddr+";",
		"listen 80;", "listen "+front+";")
	var temps strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		d := filepath.Join(dir, k)
		os.Mkdir(d, 0o777)
		os.Chmod(d, 0o777)
		fmt.Fprintf(&temps, "    %s_temp_path %s;\n", k, d)
	}
	conf := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log info;
events { worker_connections 128; }
http {
    access_log %[1]s/access.log;
%[2]s
%[3]s
}
`, dir, temps.String(), site)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"),
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+";")
	runProxy(t, cmd, front, filepath.Join(dir, "error.log"))
	return "http://" + front
}

func startCaddy(t *testing.T, bin, gatehouseAddr, upstreamAddr string) string {
	dir := t.TempDir()
	front := freeAddr(t)
	site := fromDeploy(t, "deploy/caddy/Caddyfile",
		"forward_auth 127.0.0.1:8080", "forward_auth "+gatehouseAddr,
		"reverse_proxy 127.0.0.1:9000", "reverse_proxy "+upstreamAddr,
		"api.example.com {", "http://"+front+" {")
	conf := "{\n\tadmin off\n\tauto_https off\n}\n\n" + site
	confPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", confPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	logPath := filepath.Join(dir, "caddy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	runProxy(t, cmd, front, logPath)
	return "http://" + front
}

// runProxy starts a proxy in the foreground and waits until addr accepts
// connections; it is killed when the test ends.
func runProxy(t *testing.T, cmd *exec.Cmd, addr, logPath string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(cmd.Path), b)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited at start:\n%s", cmd.Path, b)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s did not listen on %s", cmd.Path, addr)
}

// ---------------------------------------------------------------- credentials

// browser is a cookie-keeping client that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// readPage(t)(client.Get(…)) reads and closes the body.
func readPage(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
}

// signIn signs in through the login form.
func signIn(t *testing.T, hc *http.Client, base, email, password, returnTo string) *http.Response {
	t.Helper()
	u := base + "/login"
	if returnTo != "" {
		u = returnTo
	}
	_, page := readPage(t)(hc.Get(u))
	form := formFields(page)
	form.Set("email", email)
	form.Set("password", password)
	resp, _ := readPage(t)(hc.PostForm(base+"/login", form))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d", email, resp.StatusCode)
	}
	return resp
}

func webFlowToken(t *testing.T, base, clientID, secret, redirect, email, password string) string {
	t.Helper()
	hc := browser(t)
	verifier := oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: gatewayScopes(),
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	resp, _ := readPage(t)(hc.Get(conf.AuthCodeURL("gw-state", oauth2.S256ChallengeOption(verifier))))
	loginURL := resp.Header.Get("Location")
	if !strings.HasPrefix(loginURL, "http") {
		loginURL = base + loginURL
	}
	resp = signIn(t, hc, base, email, password, loginURL)
	_, page := readPage(t)(hc.Get(base + resp.Header.Get("Location")))
	form := formFields(page)
	form.Set("decision", "allow")
	resp, _ = readPage(t)(hc.PostForm(base+"/oauth2/consent", form))
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("consent: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func clientCredentialsToken(t *testing.T, base, clientID, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "scope": {strings.Join(gatewayScopes(), " ")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, body := readPage(t)(http.DefaultClient.Do(req))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.AccessToken == "" {
		t.Fatalf("client_credentials: %d %s", resp.StatusCode, body)
	}
	return out.AccessToken
}

func createPAT(t *testing.T, base, email, password string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v0/me/tokens", strings.NewReader(`{ "description": "My command line script" }`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(email, password)
	resp, body := readPage(t)(http.DefaultClient.Do(req))
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal([]byte(body), &out) != nil || out.AccessToken == "" {
		t.Fatalf("creating a PAT: %d %s", resp.StatusCode, body)
	}
	return out.AccessToken
}

func userIDOf(t *testing.T, base, email, password string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v0/me", nil)
	req.SetBasicAuth(email, password)
	resp, body := readPage(t)(http.DefaultClient.Do(req))
	var me struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil || me.ID == "" {
		t.Fatalf("GET /v0/me: %d %s", resp.StatusCode, body)
	}
	return me.ID
}

var totpSecret = regexp.MustCompile(`<code id="totp-secret" class="secret">([A-Z2-7 ]+)</code>`)

// enrolTOTP turns on two-factor for the account through the settings pages
// and returns the seed.
func enrolTOTP(t *testing.T, base, email, password string) string {
	t.Helper()
	hc := browser(t)
	signIn(t, hc, base, email, password, "")
	_, page := readPage(t)(hc.Get(base + "/account"))
	csrf := formFields(page)
	resp, _ := readPage(t)(hc.PostForm(base+"/account/2fa/start", csrf))
	if resp.StatusCode/100 != 3 {
		t.Fatalf("start two-factor: %d", resp.StatusCode)
	}
	_, page = readPage(t)(hc.Get(base + "/account/2fa"))
	m := totpSecret.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no TOTP key on the setup page:\n%s", page)
	}
	seed := strings.ReplaceAll(m[1], " ", "")
	code, err := totp.GenerateCode(seed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	form := formFields(page)
	form.Set("code", code)
	resp, body := readPage(t)(hc.PostForm(base+"/account/2fa", form))
	if resp.StatusCode >= 400 || strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("confirming two-factor: %d", resp.StatusCode)
	}
	return seed
}
