package acceptance

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const cardsConfig = `scopes:
  - name: accounts:read
    description: See your accounts and their balances
    group: Accounts
  - name: cards:read
    description: See your cards
    group: Cards
`

func scopesSupported(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	return md.Scopes
}

// waitScopes polls metadata until has reports true (a signal is handled
// asynchronously), failing after a generous deadline.
func waitScopes(t *testing.T, p *proc, base string, has func([]string) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if has(scopesSupported(t, base)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: scopes_supported = %q\n%s", what, scopesSupported(t, base), p.log())
}

// TestServeReloadsScopesOnSIGHUP: the operator's scopes come from the config
// file; SIGHUP re-reads it and swaps the catalog; an invalid file is logged
// and the running catalog stays.
func TestServeReloadsScopesOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgFile, []byte(cardsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	p := start(t, dir, []string{"GATEHOUSE_ADDR=" + addr}, "serve", "--config", cfgFile)
	waitReady(t, p, base, 20*time.Second)
	if got := scopesSupported(t, base); !slices.Contains(got, "cards:read") || !slices.Contains(got, "accounts:read") || !slices.Contains(got, "profile:read") {
		t.Fatalf("scopes_supported = %q", got)
	}

	// cards:read removed.
	if err := os.WriteFile(cfgFile, []byte(strings.SplitAfter(cardsConfig, "group: Accounts\n")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitScopes(t, p, base, func(s []string) bool { return !slices.Contains(s, "cards:read") && slices.Contains(s, "accounts:read") }, "after removing cards:read")

	// An invalid file: logged, and the running catalog stays.
	if err := os.WriteFile(cfgFile, []byte("scopes:\n  - name: orders:write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.log(), "configuration reload refused") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.log(), "a description is required") {
		t.Fatalf("the refused reload does not say why:\n%s", p.log())
	}
	if got := scopesSupported(t, base); slices.Contains(got, "orders:write") || !slices.Contains(got, "accounts:read") {
		t.Fatalf("after an invalid reload scopes_supported = %q", got)
	}
	// Still serving, and a valid file is taken again.
	if err := os.WriteFile(cfgFile, []byte(cardsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitScopes(t, p, base, func(s []string) bool { return slices.Contains(s, "cards:read") }, "after restoring cards:read")
}

// TestServeRefusesInvalidScopes: serve does not start with invalid scopes and
// names every problem.
func TestServeRefusesInvalidScopes(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gatehouse.yaml")
	bad := "scopes:\n  - name: profile:read\n    description: mine\n  - name: cards read\n    description: x\n  - name: orders:write\n    carriers: [robot]\n"
	if err := os.WriteFile(cfgFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	// Bounded: a serve that wrongly starts must not hang the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "--config", cfgFile, "--addr", freeAddr(t))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve started (%v):\n%s", err, out)
	}
	for _, want := range []string{"built-in scopes", "scope-token", "a description is required", `unknown carrier "robot"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output misses %q:\n%s", want, out)
		}
	}
}
