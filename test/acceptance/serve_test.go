// Package acceptance drives the built gatehouse binary as a user would:
// a fresh directory, no configuration, real signals.
package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

var (
	// binDir holds the binary built for this run; TestMain removes it, so a
	// run leaves no 30 MB executable behind in the temporary directory.
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-acceptance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds cmd/gatehouse once per test run, into binDir.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "gatehouse")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/gatehouse").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd    *exec.Cmd
	output *strings.Builder
	mu     *sync.Mutex
	done   chan error
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func start(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	// No metrics listener unless a test asks for one: servers started in
	// parallel (and by other test runs on the machine) would all want the
	// default port.
	cmd.Env = append(append(os.Environ(), "GATEHOUSE_METRICS_ADDR=off"), env...)
	p := &proc{cmd: cmd, output: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	cmd.Stdout = lockedWriter{p.mu, p.output}
	cmd.Stderr = lockedWriter{p.mu, p.output}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitReady polls /readyz until 200 or the deadline; it returns how long it took.
func waitReady(t *testing.T, p *proc, base string, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for time.Since(began) < within {
		select {
		case err := <-p.done:
			t.Fatalf("server exited early: %v\n%s", err, p.log())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not ready within %s\n%s", within, p.log())
	return 0
}

// waitLog reports whether the server's log contains s within the given time.
// The server writes its "listening" line before it serves /readyz, but the
// line reaches p.log() through a pipe copied by another goroutine, so a
// ready server's log may not show it yet.
func waitLog(p *proc, s string, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(p.log(), s) {
			return true
		}
	}
	return strings.Contains(p.log(), s)
}

func TestServeWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	// Only the address is overridden (the default port may be taken on a shared machine).
	p := start(t, dir, []string{"GATEHOUSE_ADDR=" + addr}, "serve")
	took := waitReady(t, p, "http://"+addr, 10*time.Second)
	t.Logf("start to ready: %s", took)
	// The "listening" line is the last one written before serving; once it
	// is in p.log(), so are the lines before it.
	issuerDerived := waitLog(p, `"issuer":"http://`+addr+`"`, 10*time.Second)
	for _, f := range []string{"gatehouse.db", "gatehouse.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not created: %v", f, err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "gatehouse.key")); st != nil && st.Mode().Perm() != 0o600 {
		t.Errorf("master key mode = %v", st.Mode().Perm())
	}
	if !strings.Contains(p.log(), "GENERATED A NEW MASTER KEY") {
		t.Error("no loud warning about the generated master key")
	}
	if !issuerDerived {
		t.Errorf("issuer not derived from addr:\n%s", p.log())
	}

	// SIGTERM: clean exit.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
		}
		p.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"plain http public issuer": {[]string{"serve", "--issuer", "http://auth.example.com"}, "HTTPS everywhere"},
		"half TLS":                 {[]string{"serve", "--tls-cert", "x.pem"}, "tls_cert and tls_key"},
		"unknown flag":             {[]string{"serve", "--nope"}, "unknown flag --nope"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(binary(t), c.args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Fatalf("err = %v, output:\n%s\nwant it to mention %q", err, out, c.want)
			}
		})
	}
}

func TestCommandLineBasics(t *testing.T) {
	out, err := exec.Command(binary(t), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "gatehouse ") {
		t.Fatalf("version: %v %s", err, out)
	}
	out, err = exec.Command(binary(t), "frobnicate").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown command") {
		t.Fatalf("unknown command: %v %s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "migrate", "up", "--output", "json")
	cmd.Dir = dir
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Dialect         string
		Current, Latest int64
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Dialect != "sqlite" || st.Current != st.Latest || st.Latest < 1 {
		t.Fatalf("migrate up --output json = %s (%v)", out, err)
	}
}

// TestPostgresNeedsMigrationThenServes: production flow on PostgreSQL —
// serve refuses an unmigrated database, migrate up fixes it, serve starts.
func TestPostgresNeedsMigrationThenServes(t *testing.T) {
	url := pgtest.URL(t)
	dsn, drop, err := postgres.NewSchema(context.Background(), url, "accept")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drop() })
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"GATEHOUSE_DATABASE=" + dsn, "GATEHOUSE_MASTER_KEY=" + base64Std(key)}

	cmd := exec.Command(binary(t), "serve", "--addr", freeAddr(t))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "gatehouse migrate up") {
		t.Fatalf("unmigrated PostgreSQL accepted: %v\n%s", err, out)
	}

	cmd = exec.Command(binary(t), "migrate", "up")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	p := start(t, t.TempDir(), append(env, "GATEHOUSE_ADDR="+addr), "serve")
	waitReady(t, p, "http://"+addr, 10*time.Second)
	if !strings.Contains(p.log(), `"database":"postgres"`) {
		t.Errorf("not serving from PostgreSQL:\n%s", p.log())
	}
}

// TestServeRefusesWrongMasterKey: serve refuses a key file that others may
// read, saying which chmod to run, and a key other than the one the database
// was created with; the database file it created is private.
func TestServeRefusesWrongMasterKey(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GATEHOUSE_ADDR="+freeAddr(t), "GATEHOUSE_METRICS_ADDR=off")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("migrate", "up"); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "gatehouse.key")
	if st, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v %v", st, err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("serve"); err == nil || !strings.Contains(out, "chmod 600 gatehouse.key") {
		t.Fatalf("key file 0644 accepted: %v\n%s", err, out)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, []byte(base64Std(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run("serve"); err == nil || !strings.Contains(out, "the master key does not match the one this database was created with") {
		t.Fatalf("another master key accepted: %v\n%s", err, out)
	}
}

// TestMetricsListener: /metrics is served on the metrics listener; the main
// listener answers 404 for it without a metrics token, and with one set
// requires exactly that bearer token.
func TestMetricsListener(t *testing.T) {
	get := func(url, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const series = "gatehouse_http_requests_total"

	addr, maddr := freeAddr(t), freeAddr(t)
	p := start(t, t.TempDir(), []string{"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_METRICS_ADDR=" + maddr}, "serve")
	waitReady(t, p, "http://"+addr, 10*time.Second)
	if code, body := get("http://"+maddr+"/metrics", ""); code != 200 || !strings.Contains(body, series) {
		t.Fatalf("metrics listener: %d\n%.300s", code, body)
	}
	if code, body := get("http://"+addr+"/metrics", ""); code != 404 || strings.Contains(body, series) {
		t.Fatalf("main listener without a metrics token: %d\n%.300s", code, body)
	}

	token := strings.Repeat("m", 40)
	addr = freeAddr(t)
	p = start(t, t.TempDir(), []string{"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_METRICS_TOKEN=" + token}, "serve")
	waitReady(t, p, "http://"+addr, 10*time.Second)
	for _, auth := range []string{"", "Bearer " + strings.Repeat("x", 40)} {
		if code, body := get("http://"+addr+"/metrics", auth); code != 401 || strings.Contains(body, series) {
			t.Fatalf("main listener, Authorization %q: %d\n%.300s", auth, code, body)
		}
	}
	if code, body := get("http://"+addr+"/metrics", "Bearer "+token); code != 200 || !strings.Contains(body, series) {
		t.Fatalf("main listener with the token: %d\n%.300s", code, body)
	}
}
