package acceptance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The README's Walkthrough marks each ```sh block with an HTML comment on the
// line before it: readmeRun blocks are run, readmeSkip blocks are not (the
// comment must say why). A block with neither fails the test, so no block
// can quietly stop being checked.
const (
	readmeRun  = "<!-- readme-test -->"
	readmeSkip = "<!-- readme-test: skip "
)

// The account the walkthrough creates; the stand-in browser signs in with it.
const readmeEmail, readmePassword = "ada@example.com", "correct horse battery staple"

type readmeBlock struct {
	line int // 1-based line of the opening fence
	skip string
	body string
}

// walkthroughBlocks returns the shell blocks of the README section named
// heading, in order.
func walkthroughBlocks(readme, heading string) ([]readmeBlock, error) {
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if l == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("README has no %q section", heading)
	}
	var blocks []readmeBlock
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "## ") {
			break
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		fence := i
		end := fence + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("README line %d: unclosed code block", fence+1)
		}
		i = end
		if l != "```sh" {
			continue
		}
		marker := ""
		for j := fence - 1; j > start; j-- {
			if strings.TrimSpace(lines[j]) != "" {
				marker = strings.TrimSpace(lines[j])
				break
			}
		}
		b := readmeBlock{line: fence + 1, body: strings.Join(lines[fence+1:end], "\n")}
		switch {
		case marker == readmeRun:
		case strings.HasPrefix(marker, readmeSkip) && strings.HasSuffix(marker, "-->"):
			b.skip = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(marker, readmeSkip), "-->"))
			if b.skip == "" {
				return nil, fmt.Errorf("README line %d: a skipped block must say why", b.line)
			}
		default:
			return nil, fmt.Errorf("README line %d: a sh block in %q needs %q (or %q reason -->) on the line before it",
				b.line, heading, readmeRun, readmeSkip)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func TestWalkthroughBlocksParse(t *testing.T) {
	readme := strings.Join([]string{
		"## Walkthrough (curl)",
		readmeRun,
		"```sh",
		"echo one",
		"```",
		"",
		"<!-- readme-test: skip needs a phone -->",
		"",
		"```sh",
		"echo two",
		"```",
		"```go",
		"x := 1",
		"```",
		"## Next",
		"```sh",
		"echo elsewhere",
		"```",
	}, "\n")
	blocks, err := walkthroughBlocks(readme, "## Walkthrough (curl)")
	if err != nil {
		t.Fatal(err)
	}
	want := []readmeBlock{{line: 3, body: "echo one"}, {line: 9, skip: "needs a phone", body: "echo two"}}
	if fmt.Sprint(blocks) != fmt.Sprint(want) {
		t.Fatalf("blocks = %+v, want %+v", blocks, want)
	}
	unmarked := "## Walkthrough (curl)\nSome text.\n```sh\necho hi\n```\n"
	if _, err := walkthroughBlocks(unmarked, "## Walkthrough (curl)"); err == nil {
		t.Fatal("an unmarked sh block was accepted")
	}
}

// TestReadmeWalkthrough runs the README's Walkthrough as a newcomer would: its
// shell blocks in order, in one bash with `set -euo pipefail`, from the root
// of the checkout — building the binaries with the README's own command,
// starting a fresh server, and creating every variable the later blocks use.
// Only the address differs: GATEHOUSE_ADDR and GATEHOUSE_URL point at a free
// port. The browser step of the code flow is played by this test: BROWSER is
// a script handing the authorization URL to driveBrowser, which signs in and
// allows access with the real forms, as the interop test does.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: CI must install it (.ci/run)", tool)
			}
			t.Skipf("the README walkthrough needs %s: install it to run this test", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{readmeEmail, readmePassword} {
		if !strings.Contains(string(readme), s) {
			t.Fatalf("the README no longer uses %q: update the stand-in browser's account", s)
		}
	}
	blocks, err := walkthroughBlocks(string(readme), "## Walkthrough (curl)")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README line %d: block not run: %s", b.line, b.skip)
			continue
		}
		fmt.Fprintf(&script, "printf '\\n+++ README line %d\\n' >&2\n%s\n", b.line, b.body)
		ran++
	}
	if ran == 0 {
		t.Fatal("no runnable block in the walkthrough")
	}

	tmp := t.TempDir()
	// The stand-in browser.
	var drove atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	browserSrv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drove.Add(1)
		if err := driveBrowser(r.URL.Query().Get("url")); err != nil {
			t.Errorf("stand-in browser: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})}
	go browserSrv.Serve(ln)
	t.Cleanup(func() { browserSrv.Close() })
	browser := filepath.Join(tmp, "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nexec curl -fsS --get --data-urlencode \"url=$1\" http://"+ln.Addr().String()+"/open\n"), 0o700); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	gopath := filepath.Join(tmp, "gopath")
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		// A developer's own settings must not leak into the fresh server
		// (GATEHOUSE_DATABASE, …), nor a GOBIN send the binaries elsewhere.
		if strings.HasPrefix(kv, "GATEHOUSE_") || strings.HasPrefix(kv, "GOBIN=") || strings.HasPrefix(kv, "GOPATH=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GATEHOUSE_ADDR="+addr,
		"GATEHOUSE_URL=http://"+addr,
		"GATEHOUSE_METRICS_ADDR=off", // the default port may be taken on a shared machine
		// `go install` writes to $GOPATH/bin: a fresh one, so the README's
		// PATH line finds these binaries and no older ones; the module cache
		// stays the usual one.
		"GOPATH="+gopath,
		"GOMODCACHE="+strings.TrimSpace(string(modcache)),
		"TMPDIR="+tmp, // mktemp -d: the server's directory is removed with the test's
		"BROWSER="+browser,
	)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Output goes to a file, not a pipe: the background server would keep a
	// pipe open and Wait would wait for it.
	out, err := os.Create(filepath.Join(tmp, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so the server started in the background is
	// stopped with the shell even when a block fails before the last one stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	log, _ := os.ReadFile(out.Name())
	if runErr != nil {
		serverLog := ""
		if logs, _ := filepath.Glob(filepath.Join(tmp, "tmp.*", "gatehouse.log")); len(logs) > 0 {
			b, _ := os.ReadFile(logs[0])
			serverLog = "\nserver log (" + logs[0] + "):\n" + string(b)
		}
		t.Fatalf("README walkthrough failed: %v\n%s%s", runErr, log, serverLog)
	}
	t.Logf("README walkthrough output:\n%s", log)
	if drove.Load() != 1 {
		t.Errorf("the code flow opened the browser %d times, want once", drove.Load())
	}
}

// driveBrowser does what the user does in the browser: opens the
// authorization URL, signs in, presses Allow, and follows the redirect to the
// app's loopback callback. If it cannot, it sends the app an error response,
// so the app stops instead of waiting for a browser that never comes.
func driveBrowser(authURL string) (err error) {
	au, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	q := au.Query()
	base := au.Scheme + "://" + au.Host
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	defer func() {
		if err != nil && q.Get("redirect_uri") != "" {
			fail := url.Values{"error": {"access_denied"}, "error_description": {"stand-in browser: " + err.Error()},
				"state": {q.Get("state")}, "iss": {base}}
			if resp, e := hc.Get(q.Get("redirect_uri") + "?" + fail.Encode()); e == nil {
				resp.Body.Close()
			}
		}
	}()
	get := func(u string) (*http.Response, string, error) {
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		resp, err := hc.Get(u)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	post := func(path string, form url.Values) (*http.Response, error) {
		resp, err := hc.PostForm(base+path, form)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp, nil
	}

	resp, _, err := get(authURL)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return fmt.Errorf("authorize without a session: %d, want a redirect to sign in", resp.StatusCode)
	}
	_, page, err := get(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	form := formFields(page)
	form.Set("email", readmeEmail)
	form.Set("password", readmePassword)
	if resp, err = post("/login", form); err != nil {
		return err
	}
	next := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(next, "authorize") {
		return fmt.Errorf("sign-in: %d → %q", resp.StatusCode, next)
	}
	_, page, err = get(next)
	if err != nil {
		return err
	}
	form = formFields(page)
	form.Set("decision", "allow")
	if resp, err = post("/oauth2/consent", form); err != nil {
		return err
	}
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, q.Get("redirect_uri")+"?") {
		return fmt.Errorf("consent: %d → %q, want the app's redirect URI", resp.StatusCode, callback)
	}
	resp, page, err = get(callback)
	if err != nil {
		return fmt.Errorf("the app's callback: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the app's callback answered %d: %s", resp.StatusCode, page)
	}
	return nil
}
