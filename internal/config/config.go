// Package config loads Gatehouse's settings from, in increasing precedence,
// built-in defaults, an optional YAML file, GATEHOUSE_* environment variables
// and command-line flags, and validates them. Every setting is declared once,
// in the settings table below, which also generates the README's table.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/contrast"
	"github.com/gatehouse/gatehouse/internal/safetext"
)

// Config is the validated configuration of one Gatehouse process.
type Config struct {
	Addr          string
	Database      string
	Issuer        string
	ConfigFile    string
	MasterKey     string // base64; GATEHOUSE_MASTER_KEY only (never a flag: it would show in ps)
	MasterKeyFile string
	TLSCert       string
	TLSKey        string
	LogLevel      string
	LogFormat     string
	AccessLog     bool
	Migrate       string // auto | always | never
	DebugAddr     string // pprof listener; "" = off
	// MetricsAddr is the separate /metrics listener; "" = none ("off" in
	// the settings is normalised to "").
	MetricsAddr string
	// MetricsToken, when set, also serves /metrics on the main listener to
	// requests bearing it. Environment only, like MasterKey.
	MetricsToken string

	// TrustedProxies are the CIDRs whose forwarding header is believed
	// (internal/clientaddr); empty: the client is the TCP peer.
	TrustedProxies  []string
	ForwardedHeader string // X-Forwarded-For | Forwarded

	MaxBodyBytes    int64
	ShutdownTimeout time.Duration

	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	SessionIdleTTL  time.Duration
	SessionMaxTTL   time.Duration
	BasicAuth       string // all | credentials
	ClientCacheTTL  time.Duration

	// Environment is production or sandbox: a sandbox deployment (its own
	// database) approves apps on registration, labels every credential
	// it issues as a sandbox one and refuses production credentials.
	Environment string

	// Signing keys of the JSON Web Tokens the server issues (internal/keys).
	SigningAlgorithms      []string
	SigningKeyRotation     time.Duration
	SigningKeyPublishAhead time.Duration
	SigningKeyReload       time.Duration

	// JWT access tokens (RFC 9068).
	AccessTokenFormat string // opaque | jwt
	JWTAccessTokenAlg string
	JWTAccessTokenTTL time.Duration

	Argon2MemoryKiB uint32
	Argon2Time      uint32
	Argon2Threads   uint8
	// Argon2Concurrency bounds concurrent password hashes (0: sized from
	// cores and memory at start).
	Argon2Concurrency int

	// Branding of the pages (and of the TOTP issuer authenticator apps show).
	SiteName       string
	LogoURL        string // "" = none; an https:// URL or a same-origin path
	AccentColor    string // #rrggbb; "" = the built-in blue
	SupportContact string // "" = none; an email address or an https:// URL
	Signup         string // open | closed

	// Email is outgoing mail (see email.go).
	Email     Email
	RateLimit RateLimitConfig // ratelimit.go
	Webhooks  WebhookConfig   // webhooks.go
	Audit     AuditConfig     // audit.go

	// Sections come from the configuration file only (see sections.go).
	Sections Sections

	// issuerDerived: no issuer was set, so Issuer was built from Addr, and a
	// problem with it is to be fixed by setting the issuer.
	issuerDerived bool
}

// setting is one row of the settings table.
type setting struct {
	key, def, help string
	flag           bool // also settable as --key (with _ → -)
	set            func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("want a duration such as 90s, 15m or 12h")
		}
		*p(c) = d
		return nil
	}
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*p(c) = b
		return nil
	}
}

func uint32v(p func(*Config) *uint32) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return errors.New("want a whole number")
		}
		*p(c) = uint32(n)
		return nil
	}
}

var settings = append([]setting{
	{"config", "", "YAML file with any of these settings (keys as in the first column)", true, str(func(c *Config) *string { return &c.ConfigFile })},
	{"addr", "127.0.0.1:8080", "listen address", true, str(func(c *Config) *string { return &c.Addr })},
	{"database", "gatehouse.db", "SQLite file path, or a postgres:// URL", true, str(func(c *Config) *string { return &c.Database })},
	{"issuer", "http://<addr>", "public base URL; must be https:// unless its host is loopback", true, str(func(c *Config) *string { return &c.Issuer })},
	{"master_key", "", "base64 32-byte key that seals recoverable secrets (environment only: GATEHOUSE_MASTER_KEY)", false, str(func(c *Config) *string { return &c.MasterKey })},
	{"master_key_file", "<database dir>/gatehouse.key", "file holding the master key; generated (0600) on first start with SQLite only", true, str(func(c *Config) *string { return &c.MasterKeyFile })},
	{"tls_cert", "", "PEM certificate: serve TLS directly", true, str(func(c *Config) *string { return &c.TLSCert })},
	{"tls_key", "", "PEM private key for tls_cert", true, str(func(c *Config) *string { return &c.TLSKey })},
	{"log_level", "info", "debug | info | warn | error", true, str(func(c *Config) *string { return &c.LogLevel })},
	{"log_format", "json", "json | text", true, str(func(c *Config) *string { return &c.LogFormat })},
	{"access_log", "true", "log one line per HTTP request", true, boolean(func(c *Config) *bool { return &c.AccessLog })},
	{"debug_addr", "", "if set, serve Go pprof profiles at http://<debug_addr>/debug/pprof/ on a separate listener (keep it on loopback)", true, str(func(c *Config) *string { return &c.DebugAddr })},
	{"trusted_proxies", "", "comma-separated CIDRs or addresses of reverse proxies in front of Gatehouse; only from them is the forwarding header read, taking the right-most address that is not a trusted proxy as the client (throttling, API-key CIDRs, sessions, leak limiter, logs)", true, func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
		return nil
	}},
	{"forwarded_header", "X-Forwarded-For", "the header the trusted proxies write: X-Forwarded-For | Forwarded (RFC 7239); the other is ignored", true, str(func(c *Config) *string { return &c.ForwardedHeader })},
	{"metrics_addr", "127.0.0.1:9464", "serve Prometheus /metrics on this separate listener; \"\" or off: none. The main listener answers 404 for /metrics unless metrics_token is set", true, str(func(c *Config) *string { return &c.MetricsAddr })},
	{"metrics_token", "", "if set (at least 32 characters), the main listener also serves /metrics to requests with Authorization: Bearer <token> (environment only: GATEHOUSE_METRICS_TOKEN)", false, str(func(c *Config) *string { return &c.MetricsToken })},
	{"migrate", "auto", "auto (migrate on start for SQLite, refuse unmigrated PostgreSQL) | always | never", true, str(func(c *Config) *string { return &c.Migrate })},
	{"max_body_bytes", "1048576", "largest request body accepted", true, func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		c.MaxBodyBytes = n
		return err
	}},
	{"shutdown_timeout", "30s", "how long in-flight requests may finish after SIGTERM", true, dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"access_token_ttl", "1h", "default access token lifetime", true, dur(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{"refresh_token_ttl", "720h", "refresh token lifetime, renewed on each rotation (sliding)", true, dur(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{"client_cache_ttl", "5s", "how long the token endpoint may reuse a client's record and secret hashes; bounds how long a disabled client or deleted secret still authenticates on another replica (0s: no cache)", true, dur(func(c *Config) *time.Duration { return &c.ClientCacheTTL })},
	{"signing_algorithms", "RS256,ES256,EdDSA", "comma-separated algorithms the server keeps a signing key for (ID tokens, JWT access tokens): RS256 (always kept; OpenID Connect requires it), ES256, EdDSA", true, func(c *Config, v string) error {
		c.SigningAlgorithms = nil
		for _, a := range strings.Split(v, ",") {
			switch a = strings.TrimSpace(a); a {
			case "":
			case "RS256", "ES256", "EdDSA":
				c.SigningAlgorithms = append(c.SigningAlgorithms, a)
			default:
				return fmt.Errorf("unknown algorithm %q: want RS256, ES256 or EdDSA", a)
			}
		}
		return nil
	}},
	{"signing_key_rotation", "720h", "a signing key older than this gets a successor (published signing_key_publish_ahead before it signs); 0s: rotate only with `gatehouse keys rotate`", true, dur(func(c *Config) *time.Duration { return &c.SigningKeyRotation })},
	{"signing_key_publish_ahead", "1h", "how long a new signing key is in the JWKS before it signs, so relying parties have cached it", true, dur(func(c *Config) *time.Duration { return &c.SigningKeyPublishAhead })},
	{"environment", "production", "production | sandbox: a sandbox deployment (its own database) approves apps on registration, lets developers create test users, shows a sandbox banner on every page, and issues credentials labelled as sandbox ones (gth<kind>_test_…); each refuses the other's credentials with invalid_token saying so", true, func(c *Config, v string) error {
		if v != "production" && v != "sandbox" {
			return errors.New("want production or sandbox")
		}
		c.Environment = v
		return nil
	}},
	{"access_token_format", "opaque", "format of access tokens: opaque (looked up on every use; revocation is immediate) | jwt (RFC 9068, signed: resource servers validate offline, so a revoked one is accepted until it expires unless they introspect). An API's token_format, then an app's own access_token_format, override it", true, str(func(c *Config) *string { return &c.AccessTokenFormat })},
	{"jwt_access_token_alg", "EdDSA", "algorithm of JWT access tokens: RS256, ES256 or EdDSA (must be in signing_algorithms)", true, str(func(c *Config) *string { return &c.JWTAccessTokenAlg })},
	{"jwt_access_token_ttl", "5m", "longest life of a JWT access token: how long a revoked one can still be accepted by a resource server that validates offline", true, dur(func(c *Config) *time.Duration { return &c.JWTAccessTokenTTL })},
	{"signing_key_reload", "30s", "how often each replica re-reads the signing keys: bounds how long a rotation made elsewhere takes to reach it (a token with an unknown kid also triggers a re-read)", true, dur(func(c *Config) *time.Duration { return &c.SigningKeyReload })},
	{"session_idle_ttl", "12h", "browser session ends after this long unused", true, dur(func(c *Config) *time.Duration { return &c.SessionIdleTTL })},
	{"session_max_ttl", "168h", "browser session ends this long after sign-in, used or not", true, dur(func(c *Config) *time.Duration { return &c.SessionMaxTTL })},
	{"basic_auth", "all", "where HTTP Basic email:password is accepted on the API: all | credentials (token-management routes only)", true, str(func(c *Config) *string { return &c.BasicAuth })},
	{"argon2_memory_kib", "19456", "argon2id memory per password hash (OWASP: 19 MiB)", true, uint32v(func(c *Config) *uint32 { return &c.Argon2MemoryKiB })},
	{"argon2_time", "2", "argon2id iterations (OWASP: 2)", true, uint32v(func(c *Config) *uint32 { return &c.Argon2Time })},
	{"argon2_threads", "1", "argon2id parallelism (OWASP: 1)", true, func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 8)
		c.Argon2Threads = uint8(n)
		return err
	}},
	{"argon2_concurrency", "0", "most password hashes computed at once; 0: max(1, min(cores ÷ argon2_threads, ¼ of available memory ÷ argon2_memory_kib)). Up to 4× as many requests wait at most 2 s for a turn; the rest are answered 503 with Retry-After", true, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Argon2Concurrency = n
		return err
	}},
	{"site_name", "Gatehouse", "name shown in page titles, the header and authenticator apps (the TOTP issuer); changing it relabels only newly enrolled authenticators", true, str(func(c *Config) *string { return &c.SiteName })},
	{"logo_url", "", "image shown beside the site name: a path on this server or an https:// URL (its origin is added to the pages' Content-Security-Policy img-src)", true, str(func(c *Config) *string { return &c.LogoURL })},
	{"accent_color", "", "#rrggbb colour of buttons and links on light pages; must reach 4.5:1 contrast against white. Empty: the built-in blue", true, str(func(c *Config) *string { return &c.AccentColor })},
	{"support_contact", "", "email address or https:// URL shown in the footer and on error pages as where to get help", true, str(func(c *Config) *string { return &c.SupportContact })},
	{"signup", "open", "open: anyone may create an account at /signup | closed: accounts are created with `gatehouse user create` only", true, str(func(c *Config) *string { return &c.Signup })},
}, append(append(append(emailSettings(), rateLimitSettings()...), webhookSettings()...), auditSettings()...)...)

// envOnly are the secret settings read from the environment only: a flag
// would show in ps, and a configuration file is too easily shared.
var envOnly = map[string]bool{"master_key": true, "metrics_token": true, "smtp_password": true}

// EnvName is the environment variable of a setting key.
func EnvName(key string) string { return "GATEHOUSE_" + strings.ToUpper(key) }

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// Setting describes one setting for help and documentation.
type Setting struct {
	Key     string // YAML key
	Flag    string // flag name without dashes; "" when environment only
	Env     string // environment variable
	Default string // "" when none; <…> when derived from other settings
	Help    string
	Bool    bool // a flag that needs no value (--access-log means true)
}

// Settings lists every setting in table order.
func Settings() []Setting {
	out := make([]Setting, 0, len(settings))
	for _, s := range settings {
		d := Setting{Key: s.key, Env: EnvName(s.key), Default: s.def, Help: s.help, Bool: s.isBool()}
		if s.flag {
			d.Flag = flagName(s.key)
		}
		out = append(out, d)
	}
	return out
}

// IsSettingFlag reports whether name (without dashes) is a setting's flag.
func IsSettingFlag(name string) bool {
	for _, s := range settings {
		if s.flag && flagName(s.key) == name {
			return true
		}
	}
	return false
}

func (s setting) isBool() bool { return s.def == "true" || s.def == "false" }

// Flags holds the flag values registered on a FlagSet, read back by Load.
type Flags struct {
	fs *flag.FlagSet
}

// boolSetting is a boolean setting's flag: given alone (--access-log) it
// means true, like a flag.Bool, yet an unset flag stays distinguishable from
// an explicit false so the file and environment still apply.
type boolSetting struct{ v string }

func (b *boolSetting) String() string     { return b.v }
func (b *boolSetting) Set(v string) error { b.v = v; return nil }
func (b *boolSetting) IsBoolFlag() bool   { return true }

// RegisterFlags adds every flag-settable setting to fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	for _, s := range settings {
		if !s.flag {
			continue
		}
		help := s.help
		if s.def != "" {
			help += " (default " + s.def + ")"
		}
		if s.isBool() {
			fs.Var(&boolSetting{}, flagName(s.key), help)
			continue
		}
		fs.String(flagName(s.key), "", help)
	}
	return &Flags{fs: fs}
}

// Load builds the configuration: defaults, then the YAML file, then the
// environment (getenv, normally os.Getenv), then flags explicitly set on the
// command line. It returns every problem found, joined.
func Load(f *Flags, getenv func(string) string) (Config, error) {
	explicit := map[string]string{}
	if f != nil {
		f.fs.Visit(func(fl *flag.Flag) {
			explicit[strings.ReplaceAll(fl.Name, "-", "_")] = fl.Value.String()
		})
	}
	lookup := func(key string) (string, bool) {
		if v, ok := explicit[key]; ok {
			return v, true
		}
		if v := getenv(EnvName(key)); v != "" {
			return v, true
		}
		return "", false
	}

	fileVals := map[string]string{}
	var sections Sections
	var errs []error
	if path, ok := lookup("config"); ok {
		vals, secs, err := readFile(path)
		if err != nil {
			errs = append(errs, err)
		}
		fileVals, sections = vals, secs
	}

	c := Config{Sections: sections}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.key] = true
		v, ok := lookup(s.key)
		if !ok {
			v, ok = fileVals[s.key]
		}
		if !ok {
			if strings.HasPrefix(s.def, "<") || strings.HasPrefix(s.def, "http://<") {
				continue // derived below
			}
			v = s.def
		}
		if err := s.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value %q: %v", s.key, v, err))
			// Validate the rest with the default in its place, so that
			// one typo does not hide the other problems and is not
			// reported twice ("must be positive").
			if !strings.HasPrefix(s.def, "<") && !strings.HasPrefix(s.def, "http://<") {
				_ = s.set(&c, s.def)
			}
		}
	}
	for k := range fileVals {
		if !known[k] || envOnly[k] {
			errs = append(errs, fmt.Errorf("%s: unknown setting %q%s", c.ConfigFile, k, closest(k, func(s setting) string { return s.key })))
		}
	}
	c.derive()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// closest returns " (did you mean X?)" for the setting whose name (as name
// gives it) is closest to word, or "".
func closest(word string, name func(setting) string) string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = name(s)
	}
	if best, ok := Closest(word, names); ok {
		return " (did you mean " + best + "?)"
	}
	return ""
}

// Closest returns the candidate nearest to word if it is near enough to be
// a likely misspelling: at most a third of the word's letters (and at least
// one) edited, so "databse" finds "database" but "frobnicate" finds nothing.
func Closest(word string, candidates []string) (string, bool) {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	return best, best != "" && bestD <= max(1, len(word)/3)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnknownEnv returns a warning for each GATEHOUSE_* variable in environ
// ("KEY=value" entries, as os.Environ gives) that is no setting: a
// misspelt variable is otherwise silently ignored, and the default it meant
// to replace silently applies. Variables the test suite and tools read
// (GATEHOUSE_TEST_*, and those in toolVars) are not settings but expected.
func UnknownEnv(environ []string) []string {
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "GATEHOUSE_") || strings.HasPrefix(name, "GATEHOUSE_TEST_") || toolVars[name] {
			continue
		}
		known := false
		for _, s := range settings {
			if EnvName(s.key) == name {
				known = true
				break
			}
		}
		if !known {
			warnings = append(warnings, fmt.Sprintf("warning: ignoring %s: no such setting%s", name, closest(name, func(s setting) string { return EnvName(s.key) })))
		}
	}
	return warnings
}

// toolVars are GATEHOUSE_* variables read by the tests and examples, not by
// the server.
var toolVars = map[string]bool{"GATEHOUSE_URL": true, "GATEHOUSE_ARTIFACTS": true, "GATEHOUSE_CRASH_CHILD_DB": true}

// readFile reads the YAML file: its single settings as strings, and its
// sections (lists of records) decoded strictly, so a misspelt field is an
// error rather than a silently ignored rule.
func readFile(path string) (map[string]string, Sections, error) {
	var secs Sections
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, secs, fmt.Errorf("config file: %w", err)
	}
	raw := map[string]any{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, secs, fmt.Errorf("config file %s: %w", path, err)
	}
	secs, err = decodeSections(data, raw)
	if err != nil {
		return nil, secs, fmt.Errorf("config file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if sectionKeys[k] {
			continue
		}
		if list, ok := v.([]any); ok {
			// A YAML list (trusted_proxies) reads as the comma-separated form.
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = fmt.Sprint(e)
			}
			out[k] = strings.Join(parts, ",")
			continue
		}
		out[k] = fmt.Sprint(v)
	}
	return out, secs, nil
}

// IsPostgres reports whether the database setting names PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// derive fills the settings whose defaults depend on others.
func (c *Config) derive() {
	if c.Issuer == "" {
		c.issuerDerived = true
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.Issuer = scheme + "://" + c.Addr
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if strings.EqualFold(c.MetricsAddr, "off") {
		c.MetricsAddr = ""
	}
	if c.MasterKeyFile == "" && !c.IsPostgres() {
		c.MasterKeyFile = filepath.Join(filepath.Dir(c.Database), "gatehouse.key")
	}
	c.deriveEmail()
}

// Validate returns every problem with c, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr %q: %v", c.Addr, err)
	}
	if c.DebugAddr != "" {
		if host, _, err := net.SplitHostPort(c.DebugAddr); err != nil || !IsLoopbackHost(host) {
			bad("debug_addr %q must be a loopback host:port (profiles expose internals)", c.DebugAddr)
		}
	}
	if _, err := clientaddr.New(c.TrustedProxies, ""); err != nil {
		bad("trusted_proxies: %v", err)
	}
	if _, err := clientaddr.New(nil, c.ForwardedHeader); err != nil {
		bad("forwarded_header: %v", err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("metrics_addr %q: %v (use off to serve no metrics listener)", c.MetricsAddr, err)
		}
	}
	// Enough to resist guessing: the token is compared in constant time but
	// nothing throttles attempts.
	if c.MetricsToken != "" && len(c.MetricsToken) < 32 {
		bad("metrics_token must be at least 32 characters (e.g. `head -c 32 /dev/urandom | base64`)")
	}
	if c.Database == "" {
		bad("database must be set")
	}
	u, err := url.Parse(c.Issuer)
	addrHost, addrPort, addrErr := net.SplitHostPort(c.Addr)
	switch {
	case c.issuerDerived && addrErr != nil:
		// Reported with addr above.
	case c.issuerDerived && (addrHost == "" || net.ParseIP(addrHost) != nil && net.ParseIP(addrHost).IsUnspecified()):
		// An address such as :8080 or 0.0.0.0:8080 listens on every
		// interface: the URL clients reach it by cannot be guessed, and a
		// wrong issuer breaks discovery and token validation elsewhere.
		bad("issuer: addr %s listens on every interface, so the public URL cannot be derived from it: set --issuer (GATEHOUSE_ISSUER) to the URL clients use, e.g. https://auth.example.com, or http://127.0.0.1:%s for this machine only", c.Addr, addrPort)
	case c.issuerDerived && u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		bad("issuer: derived from addr %s as %s, which is not https: set --issuer (GATEHOUSE_ISSUER) to the public https:// URL, and serve TLS with --tls-cert/--tls-key or behind a TLS proxy", c.Addr, c.Issuer)
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		bad("issuer %q must be an absolute http(s) URL", c.Issuer)
	case u.RawQuery != "" || u.Fragment != "":
		// RFC 8414 §2: the issuer has no query or fragment components.
		bad("issuer %q must not have a query or fragment (RFC 8414 §2)", c.Issuer)
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		bad("issuer %q: HTTPS everywhere — a non-loopback issuer must be https:// (serve TLS with --tls-cert/--tls-key or behind a TLS proxy)", c.Issuer)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert and tls_key must be set together")
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad("%s %q: must be one of %s", key, v, strings.Join(allowed, ", "))
	}
	oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf("log_format", c.LogFormat, "json", "text")
	oneOf("migrate", c.Migrate, "auto", "always", "never")
	oneOf("basic_auth", c.BasicAuth, "all", "credentials")
	oneOf("signup", c.Signup, "open", "closed")
	errs = append(errs, c.validateBranding()...)
	errs = append(errs, c.validateEmail()...)
	errs = append(errs, c.validateRateLimits()...)
	for key, d := range map[string]time.Duration{
		"access_token_ttl": c.AccessTokenTTL, "refresh_token_ttl": c.RefreshTokenTTL,
		"session_idle_ttl": c.SessionIdleTTL, "session_max_ttl": c.SessionMaxTTL, "shutdown_timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			bad("%s must be positive", key)
		}
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > time.Minute {
		bad("client_cache_ttl must be between 0s and 1m")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max_body_bytes must be at least 1024")
	}
	if c.Argon2MemoryKiB < 8*1024 || c.Argon2Time < 1 || c.Argon2Threads < 1 {
		bad("argon2 parameters below the safe minimum (memory ≥ 8192 KiB, time ≥ 1, threads ≥ 1)")
	}
	if c.Argon2Concurrency < 0 || c.Argon2Concurrency > 4096 {
		bad("argon2_concurrency must be between 0 (auto) and 4096")
	}
	return errors.Join(errs...)
}

// IsLoopbackHost reports whether host (no port) is a loopback name or address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MarkdownTable renders the settings table for the README.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| setting (YAML key) | flag | environment | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range settings {
		fl := "—"
		if s.flag {
			fl = "`--" + flagName(s.key) + "`"
		}
		def := s.def
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		// A literal "|" would end the cell: escape it.
		help := strings.ReplaceAll(s.help, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", s.key, fl, EnvName(s.key), def, help)
	}
	return b.String()
}

// SignupOpen reports whether anyone may create an account on the pages.
func (c *Config) SignupOpen() bool { return c.Signup != "closed" }

// validateBranding checks the branding settings. They end up in every page,
// so each is held to what the pages can show safely: the accent must keep
// link text readable (WCAG 2.2 1.4.3: "a contrast ratio of at least 4.5:1"),
// and the logo and support links must be same-origin or https.
func (c *Config) validateBranding() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if n := len([]rune(c.SiteName)); n == 0 || n > 60 || safetext.Check(c.SiteName, 240) != nil {
		bad("site_name %q must be 1 to 60 printable characters", c.SiteName)
	}
	if c.LogoURL != "" {
		if _, err := LogoOrigin(c.LogoURL); err != nil {
			bad("logo_url %q: %v", c.LogoURL, err)
		}
	}
	if c.AccentColor != "" {
		accent, err := contrast.ParseHex(c.AccentColor)
		if err != nil {
			bad("accent_color: %v", err)
		} else if r := contrast.Ratio(accent, contrast.White); r < 4.5 {
			bad("accent_color %s has %.2f:1 contrast against white; links need at least 4.5:1 (pick a darker shade)", c.AccentColor, r)
		}
	}
	if c.SupportContact != "" {
		if _, err := SupportHref(c.SupportContact); err != nil {
			bad("support_contact %q: %v", c.SupportContact, err)
		}
	}
	return errs
}

// LogoOrigin returns the origin to allow in img-src for a logo URL ("" for a
// same-origin path), or why the URL is not acceptable.
func LogoOrigin(logo string) (string, error) {
	if strings.HasPrefix(logo, "/") && !strings.HasPrefix(logo, "//") {
		if strings.ContainsAny(logo, "\\ \"'") || safetext.Check(logo, 2048) != nil {
			return "", errors.New("the path holds characters a URL cannot")
		}
		return "", nil
	}
	u, err := url.Parse(logo)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", errors.New("must be a path on this server (/…) or an https:// URL")
	}
	return "https://" + u.Host, nil
}

// SupportHref is the link for a support contact: mailto: for an email
// address, the URL itself for an https:// URL.
func SupportHref(contact string) (string, error) {
	if strings.HasPrefix(contact, "https://") {
		u, err := url.Parse(contact)
		if err != nil || u.Host == "" || u.User != nil {
			return "", errors.New("not a valid https:// URL")
		}
		return u.String(), nil
	}
	a, err := mail.ParseAddress(contact)
	if err != nil || a.Address != contact {
		return "", errors.New("must be an email address (help@example.com) or an https:// URL")
	}
	return "mailto:" + contact, nil
}
