package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
)

// serverProc is a Gatehouse server the bench started as a child process, so
// that its CPU time and memory are its own, not the load generator's.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int
	baseURL string
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error

	startToReady time.Duration
}

// readyTimeout bounds how long a server may take to answer /readyz.
const readyTimeout = 60 * time.Second

// gatehouseEnv returns the environment for the server and the admin CLI: the
// bench's own, minus the settings the bench decides, plus those.
func gatehouseEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[k]; overridden {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// serverSettings are the GATEHOUSE_* variables of a bench-started server.
func serverSettings(addr, database, masterKey, configFile string) map[string]string {
	return map[string]string{
		"GATEHOUSE_CONFIG":          configFile, // the bench's file (gateway routes) only
		"GATEHOUSE_ADDR":            addr,
		"GATEHOUSE_ISSUER":          "http://" + addr,
		"GATEHOUSE_DATABASE":        database,
		"GATEHOUSE_MASTER_KEY":      masterKey,
		"GATEHOUSE_MASTER_KEY_FILE": "",
		"GATEHOUSE_TLS_CERT":        "",
		"GATEHOUSE_TLS_KEY":         "",
		"GATEHOUSE_MIGRATE":         "always", // a fresh database or schema
		"GATEHOUSE_METRICS_ADDR":    "off",    // the default port may be taken; nothing scrapes it
		"GATEHOUSE_METRICS_TOKEN":   "",
		// The bench measures capacity; a per-client limit would measure itself.
		"GATEHOUSE_RATE_LIMIT_TOKEN_CLIENT":  "off",
		"GATEHOUSE_RATE_LIMIT_TOKEN_ADDRESS": "off",
		// The deliveries workload's receiver listens on loopback.
		"GATEHOUSE_WEBHOOK_DEV_LOOPBACK": "true",
	}
}

// benchConfig is the server's configuration file: the gateway rule the
// gateway-check workloads ask about, and the API whose resource server the
// middleware workloads play.
const benchConfig = "gateway_routes:\n  - method: GET\n    path: " + benchGatewayPath + "\n    scopes: [" + benchScope + "]\n" +
	"apis:\n  - identifier: " + benchAPI + "\n    name: Bench API\n    scopes: [" + benchScope + "]\n"

// writeBenchConfig writes benchConfig into dir and returns its path.
func writeBenchConfig(dir string) (string, error) {
	p := filepath.Join(dir, "gatehouse.yaml")
	return p, os.WriteFile(p, []byte(benchConfig), 0o600)
}

func newMasterKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs `<binary> serve` with env and waits until /readyz answers
// 200. The measured start-to-ready time runs from spawn to that answer.
func startServer(ctx context.Context, binary, addr string, env []string, dir string) (*serverProc, error) {
	return startProc(ctx, binary, []string{"serve"}, addr, "/readyz", env, dir, "server.log")
}

// startProc runs binary with args and waits until GET readyPath on addr
// answers 200.
func startProc(ctx context.Context, binary string, args []string, addr, readyPath string, env []string, dir, logName string) (*serverProc, error) {
	logPath := filepath.Join(dir, logName)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd) // if the bench dies, the server dies with it

	client := &http.Client{Transport: loopbackTransport(2), Timeout: time.Second}
	readyURL := "http://" + addr + readyPath

	spawned := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s serve: %w", binary, err)
	}
	s := &serverProc{cmd: cmd, pid: cmd.Process.Pid, baseURL: "http://" + addr, logPath: logPath, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.done)
	}()

	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(readyURL)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.startToReady = time.Since(spawned)
				client.CloseIdleConnections()
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited before it was ready (%v); its log:\n%s", s.waitErr, s.logTail(30))
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("server not ready after %v; its log:\n%s", readyTimeout, s.logTail(30))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// stop asks the server to shut down (SIGTERM) and kills it if it has not
// exited within a few seconds.
func (s *serverProc) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.cmd.Process.Kill()
		<-s.done
	}
}

// alive reports whether the server process is still running.
func (s *serverProc) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// logTail returns the last n lines of the server's log.
func (s *serverProc) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// ---------------------------------------------------------------- database

// freshPostgresSchema creates a schema with a unique name in the database of
// dbURL and returns a URL whose connections use it (search_path), plus a
// function that drops it.
func freshPostgresSchema(ctx context.Context, dbURL string) (string, func(), error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("database URL: %w", err)
	}
	if !loopbackHost(u.Hostname()) && u.Hostname() != "" {
		return "", nil, fmt.Errorf("database host %q is not loopback: the bench only runs on this machine", u.Hostname())
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dsn, drop, err := postgres.NewSchema(ctx, dbURL, "gatehouse_bench")
	if err != nil {
		return "", nil, err
	}
	return dsn, func() { drop() }, nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// ---------------------------------------------------------------- admin CLI

// adminCLI runs the admin subcommands of a gatehouse binary against the
// server's database.
type adminCLI struct {
	binary string
	env    []string
}

// run executes `binary args…` with stdin, bounded in time, and returns stdout.
func (a *adminCLI) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.binary, args...)
	cmd.Env = a.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		// The first lines say what went wrong (a panic's trace follows them).
		if lines := strings.SplitN(msg, "\n", 3); len(lines) > 2 {
			msg = strings.Join(lines[:2], " / ") + " …"
		}
		if len(msg) > 400 {
			msg = msg[:400] + "…"
		}
		var path []string // the command words, without the flags
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				break
			}
			path = append(path, a)
		}
		return nil, fmt.Errorf("gatehouse %s: %v: %s", strings.Join(path, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// errNotLoopback refuses targets off this machine.
var errNotLoopback = errors.New("the bench only drives servers on loopback addresses (127.0.0.0/8, ::1, localhost)")

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ---------------------------------------------------------------- Admin via the CLI

// CreateUser runs `gatehouse user create --email E --password-stdin`.
func (a *adminCLI) CreateUser(ctx context.Context, email, password string) error {
	_, err := a.run(ctx, password+"\n", "user", "create", "--email", email, "--password-stdin", "--output", "json")
	return a.notAvailable(err, "the admin CLI's user create")
}

// CreateClient runs `gatehouse client create … --output json`.
func (a *adminCLI) CreateClient(ctx context.Context, spec ClientSpec) (ClientCreds, error) {
	args := []string{"client", "create", "--name", spec.Name, "--owner", spec.OwnerEmail}
	if spec.ResourceServer != "" {
		args = append(args, "--resource-server", spec.ResourceServer)
	}
	for _, u := range spec.RedirectURIs {
		args = append(args, "--redirect-uri", u)
	}
	for _, g := range spec.GrantTypes {
		args = append(args, "--grant-type", g)
	}
	for _, s := range spec.Scopes {
		args = append(args, "--scope", s)
	}
	args = append(args, "--output", "json")
	out, err := a.run(ctx, "", args...)
	if err != nil && spec.ResourceServer != "" && strings.Contains(err.Error(), "flag provided but not defined: -resource-server") {
		return ClientCreds{}, &NotAvailableError{What: "resource-server clients (the admin CLI's client create --resource-server)"}
	}
	if err != nil {
		return ClientCreds{}, a.notAvailable(err, "the admin CLI's client create")
	}
	m, err := jsonObject(out)
	if err != nil {
		return ClientCreds{}, fmt.Errorf("client create: %w", err)
	}
	c := ClientCreds{
		ID:     pick(m, "client_id", "clientId", "id"),
		Secret: pick(m, "client_secret", "clientSecret", "secret"),
	}
	if c.ID == "" || c.Secret == "" {
		return c, fmt.Errorf("client create printed no client_id/client_secret: %s", out)
	}
	return c, nil
}

// notAvailable turns "unknown command" from an older binary into n/a.
func (a *adminCLI) notAvailable(err error, what string) error {
	if err != nil && strings.Contains(err.Error(), "unknown command") {
		return &NotAvailableError{What: what}
	}
	return err
}

func jsonObject(out []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(out), &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %q", out)
	}
	return m, nil
}

// pick returns the first of keys that holds a string, looking one level
// into nested objects too (e.g. {"client": {"client_id": …}}).
func pick(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if s := pick(sub, keys...); s != "" {
				return s
			}
		}
	}
	return ""
}
