package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBashCompletion sources the generated script in a real bash and asks it
// what completes: commands, a group's verbs, a command's own flags.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	code, script, errs := runIn(t, nil, "completion", "bash")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	file := filepath.Join(t.TempDir(), "gatehouse.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string // the last one is being completed
		want  []string
	}{
		{[]string{"mi"}, []string{"migrate"}},
		{[]string{"user", "cr"}, []string{"create"}},
		{[]string{"client", "create", "--re"}, []string{"--redirect-uri", "--redis-key-prefix", "--refresh-token-ttl", "--refresh-ttl", "--resource-server"}},
		{[]string{"user", "create", "--pass"}, []string{"--password-stdin"}},
		{[]string{"completion", ""}, []string{"bash", "fish", "zsh"}},
		{[]string{"help", "set"}, []string{"settings"}},
	} {
		words := append([]string{"gatehouse"}, tc.words...)
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		cmd := exec.Command(bash, "-c", "source "+file+"; COMP_WORDS=("+strings.Join(quoted, " ")+"); COMP_CWORD="+
			strconv.Itoa(len(words)-1)+"; _gatehouse; printf '%s\\n' \"${COMPREPLY[@]}\" | sort")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.words, err, out)
		}
		if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "complete -F _gatehouse gatehouse", "zsh": "bashcompinit", "fish": "complete -c gatehouse -n '__fish_seen_subcommand_from user; and __fish_seen_subcommand_from create' -l email"} {
		code, out, errs := runIn(t, nil, "completion", shell)
		if code != 0 || errs != "" || !strings.Contains(out, marker) {
			t.Errorf("%s: exit %d, stderr %q, no %q in:\n%.400s", shell, code, errs, marker, out)
		}
	}
	if code, _, errs := runIn(t, nil, "completion", "powershell"); code != exitUsage || !strings.Contains(errs, "bash, zsh or fish") {
		t.Errorf("unknown shell: exit %d, %q", code, errs)
	}
}
