package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(f, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.Database != "gatehouse.db" || c.Issuer != "http://127.0.0.1:8080" {
		t.Fatalf("defaults = %+v", c)
	}
	if c.MasterKeyFile != "gatehouse.key" || c.AccessTokenTTL != time.Hour || c.BasicAuth != "all" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestPrecedenceFlagOverEnvOverFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:7000\nlog_level: warn\naccess_token_ttl: 5m\n"), 0o600)
	env := map[string]string{"GATEHOUSE_CONFIG": file, "GATEHOUSE_ADDR": "127.0.0.1:7001", "GATEHOUSE_LOG_LEVEL": "error"}
	c, err := load(t, []string{"--addr", "127.0.0.1:7002"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7002" {
		t.Errorf("flag lost: addr = %s", c.Addr)
	}
	if c.LogLevel != "error" {
		t.Errorf("env lost to file: log_level = %s", c.LogLevel)
	}
	if c.AccessTokenTTL != 5*time.Minute {
		t.Errorf("file ignored: access_token_ttl = %s", c.AccessTokenTTL)
	}
	if c.Issuer != "http://127.0.0.1:7002" {
		t.Errorf("issuer not derived from addr: %s", c.Issuer)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := load(t, []string{"--issuer", "http://auth.example.com", "--log-level", "loud", "--tls-cert", "x.pem", "--access-token-ttl", "-1s"}, nil)
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"HTTPS everywhere", "log_level", "tls_cert and tls_key", "access_token_ttl"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestIssuerRules(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"https://auth.example.com":  true,
		"http://127.0.0.1:9000":     true,
		"http://[::1]:9000":         true,
		"http://localhost:8080":     true,
		"http://auth.example.com":   false,
		"https://a.example.com?x=1": false,
		"auth.example.com":          false,
	} {
		_, err := load(t, []string{"--issuer", issuer}, nil)
		if (err == nil) != ok {
			t.Errorf("issuer %s: err = %v, want ok=%v", issuer, err, ok)
		}
	}
}

func TestUnknownFileKeyRejected(t *testing.T) {
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("adr: 127.0.0.1:7000\n"), 0o600)
	if _, err := load(t, []string{"--config", file}, nil); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("typo in config file not reported: %v", err)
	}
}

func TestPostgresNeedsExplicitKeyFile(t *testing.T) {
	c, err := load(t, []string{"--database", "postgres://u@127.0.0.1/db"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsPostgres() || c.MasterKeyFile != "" {
		t.Fatalf("postgres config = %+v", c)
	}
}

// TestREADMEShowsTheSettingsTable: the README's configuration table is the
// one this package generates (`gatehouse config`), so the two cannot drift.
func TestREADMEShowsTheSettingsTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := MarkdownTable()
	if !strings.Contains(string(readme), table) {
		t.Fatalf("README.md does not contain the current settings table; regenerate it with `go run ./cmd/gatehouse config`:\n%s", table)
	}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		// Every row has exactly 6 unescaped pipes (5 cells).
		if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
			t.Errorf("row has %d cell separators, want 6: %s", n, line)
		}
	}
}

func TestTrustedProxiesFromYAMLListOrCommaString(t *testing.T) {
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("trusted_proxies:\n  - 10.0.0.0/8\n  - 192.168.1.1\n"), 0o600)
	c, err := load(t, nil, map[string]string{"GATEHOUSE_CONFIG": file})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.TrustedProxies, " ") != "10.0.0.0/8 192.168.1.1" || c.ForwardedHeader != "X-Forwarded-For" {
		t.Fatalf("from YAML: %q %q", c.TrustedProxies, c.ForwardedHeader)
	}
	c, err = load(t, []string{"--trusted-proxies", "fd00::/8, 127.0.0.1", "--forwarded-header", "Forwarded"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.TrustedProxies, " ") != "fd00::/8 127.0.0.1" || c.ForwardedHeader != "Forwarded" {
		t.Fatalf("from flags: %q %q", c.TrustedProxies, c.ForwardedHeader)
	}
	_, err = load(t, []string{"--trusted-proxies", "10.0.0.0/33,proxy.lan", "--forwarded-header", "X-Real-IP"}, nil)
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Fatalf("bad proxies accepted: %v", err)
	}
}

func TestSectionsDecodeStrictly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "g.yaml")
	os.WriteFile(file, []byte(`addr: 127.0.0.1:7000
scopes:
  - name: cards:read
    description: See your cards
    group: Cards
    carriers: [delegated, pat]
  - name: accounts:read
    description: See your accounts
    sensitive: true
apis:
  - identifier: https://api.example.com
    name: Example API
    scopes: [cards:read, accounts:read]
gateway_routes:
  - method: GET
    path: /v0/me/cards
    scopes: [cards:read]
  - path: /status
    public: true
`), 0o600)
	c, err := load(t, nil, map[string]string{"GATEHOUSE_CONFIG": file})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sections
	if c.Addr != "127.0.0.1:7000" || len(s.Scopes) != 2 || s.Scopes[0].Group != "Cards" || !s.Scopes[1].Sensitive ||
		len(s.Scopes[0].Carriers) != 2 || len(s.APIs) != 1 || s.APIs[0].Identifier != "https://api.example.com" ||
		len(s.Routes) != 2 || s.Routes[0].Scopes[0] != "cards:read" || !s.Routes[1].Public {
		t.Fatalf("sections = %+v", s)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("scopes:\n  - name: cards:read\n    descripton: typo\n"), 0o600)
	if _, err := load(t, nil, map[string]string{"GATEHOUSE_CONFIG": bad}); err == nil || !strings.Contains(err.Error(), "descripton") {
		t.Fatalf("misspelt field accepted: %v", err)
	}
}

func TestMetricsSettings(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil || c.MetricsAddr != "127.0.0.1:9464" || c.MetricsToken != "" {
		t.Fatalf("defaults: %q %q %v", c.MetricsAddr, c.MetricsToken, err)
	}
	c, err = load(t, []string{"--metrics-addr", "off"}, nil)
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf("off: %q %v", c.MetricsAddr, err)
	}
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("metrics_addr: \"\"\n"), 0o600)
	c, err = load(t, nil, map[string]string{"GATEHOUSE_CONFIG": file})
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf(`"" in the file: %q %v`, c.MetricsAddr, err)
	}
	token := strings.Repeat("t", 32)
	c, err = load(t, nil, map[string]string{"GATEHOUSE_METRICS_TOKEN": token})
	if err != nil || c.MetricsToken != token {
		t.Fatalf("token from the environment: %q %v", c.MetricsToken, err)
	}
	if _, err := load(t, nil, map[string]string{"GATEHOUSE_METRICS_TOKEN": "short"}); err == nil || !strings.Contains(err.Error(), "metrics_token") {
		t.Fatalf("short token: %v", err)
	}
	if _, err := load(t, []string{"--metrics-addr", "nope"}, nil); err == nil || !strings.Contains(err.Error(), "metrics_addr") {
		t.Fatalf("bad address: %v", err)
	}
	os.WriteFile(file, []byte("metrics_token: "+token+"\n"), 0o600)
	if _, err := load(t, nil, map[string]string{"GATEHOUSE_CONFIG": file}); err == nil || !strings.Contains(err.Error(), "metrics_token") {
		t.Fatalf("token in the configuration file accepted: %v", err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	RegisterFlags(fs)
	if fs.Lookup("metrics-token") != nil {
		t.Fatal("metrics_token is a flag: it would show in ps")
	}
}

// TestDerivedIssuerSaysSetIssuer: with no issuer set, one that cannot be
// derived from addr is refused with a message saying to set --issuer, not
// only that the derived URL is wrong.
func TestDerivedIssuerSaysSetIssuer(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // "" entries: no error wanted
	}{
		{[]string{"--addr", "0.0.0.0:8080"}, []string{"set --issuer", "every interface"}},
		{[]string{"--addr", ":18181"}, []string{"set --issuer", "http://127.0.0.1:18181"}},
		{[]string{"--addr", "[::]:8080"}, []string{"set --issuer"}},
		{[]string{"--addr", "0.0.0.0:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, []string{"set --issuer"}},
		{[]string{"--addr", "10.0.0.5:8080"}, []string{"set --issuer", "not https"}},
		{[]string{"--addr", "0.0.0.0:8080", "--issuer", "https://auth.example.com"}, nil},
		{[]string{"--addr", "localhost:9000"}, nil},
	} {
		cfg, err := load(t, c.args, nil)
		if len(c.want) == 0 {
			if err != nil {
				t.Errorf("%v: %v", c.args, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v accepted, issuer %s", c.args, cfg.Issuer)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v; want it to say %q", c.args, err, w)
			}
		}
	}
	if c, err := load(t, []string{"--addr", "localhost:9000"}, nil); err != nil || c.Issuer != "http://localhost:9000" {
		t.Errorf("loopback addr: issuer %q, %v", c.Issuer, err)
	}
}

// TestBadValueDoesNotHideOtherProblems: a value that does not parse is
// reported together with every validation problem, once, in words.
func TestBadValueDoesNotHideOtherProblems(t *testing.T) {
	_, err := load(t, []string{"--access-token-ttl", "5", "--log-level", "loud", "--issuer", "http://auth.example.com", "--access-log=maybe"}, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, w := range []string{`access_token_ttl: invalid value "5": want a duration such as 90s`, `log_level "loud"`, "HTTPS everywhere", `access_log: invalid value "maybe": want true or false`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "must be positive") {
		t.Errorf("the bad duration is reported twice:\n%s", msg)
	}
}

// TestUnknownEnvWarns: a GATEHOUSE_* variable that is no setting is named,
// with the setting it most likely meant.
func TestUnknownEnvWarns(t *testing.T) {
	got := UnknownEnv([]string{
		"PATH=/bin", "GATEHOUSE_ADDR=127.0.0.1:1", "GATEHOUSE_DATABSE=x.db", "GATEHOUSE_TEST_POSTGRES_URL=postgres://",
		"GATEHOUSE_FROBNICATE=1", "GATEHOUSE_MASTER_KEY=k",
	})
	if len(got) != 2 {
		t.Fatalf("warnings %q, want 2", got)
	}
	if !strings.Contains(got[0], "GATEHOUSE_DATABSE") || !strings.Contains(got[0], "did you mean GATEHOUSE_DATABASE?") {
		t.Errorf("warning %q", got[0])
	}
	if !strings.Contains(got[1], "GATEHOUSE_FROBNICATE") || strings.Contains(got[1], "did you mean") {
		t.Errorf("warning %q", got[1])
	}
}

// TestBooleanSettingFlag: a boolean setting given alone as a flag means
// true; =false still turns it off; unset, the environment applies.
func TestBooleanSettingFlag(t *testing.T) {
	if c, err := load(t, []string{"--access-log"}, map[string]string{"GATEHOUSE_ACCESS_LOG": "false"}); err != nil || !c.AccessLog {
		t.Errorf("--access-log: %v %v", c.AccessLog, err)
	}
	if c, err := load(t, []string{"--access-log=false"}, nil); err != nil || c.AccessLog {
		t.Errorf("--access-log=false: %v %v", c.AccessLog, err)
	}
	if c, err := load(t, nil, map[string]string{"GATEHOUSE_ACCESS_LOG": "false"}); err != nil || c.AccessLog {
		t.Errorf("environment false: %v %v", c.AccessLog, err)
	}
}
