package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// crashEnv names the database file when this test binary runs as the child
// of TestCrashDurability.
const crashEnv = "GATEHOUSE_CRASH_CHILD_DB"

// TestCrashDurability kills a writer with SIGKILL in the middle of its work
// and checks that every row it reported committed is in the file: WAL with
// synchronous=NORMAL must survive a process crash.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read what the child reports; kill it once it is well into its loop.
	// Lines already in the pipe when it dies are still read: they too were
	// printed only after their commit returned.
	const killAfter = 300
	var committed []string
	killed := false
	deadline := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "committed ")
		if !ok {
			continue
		}
		committed = append(committed, id)
		if len(committed) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, no final checkpoint
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%d commits reported): %v", len(committed), err)
	}

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range committed {
		if _, err := s.UserByID(t.Context(), id); err != nil {
			t.Fatalf("user %s reported committed, then: %v", id, err)
		}
		c, err := s.ClientByID(t.Context(), "client-"+id)
		if err != nil {
			t.Fatalf("client of %s reported committed, then: %v", id, err)
		}
		secrets, err := s.ClientSecrets(t.Context(), c.ID)
		if err != nil || len(secrets) != 2 {
			t.Fatalf("secrets of client-%s: %d, %v; want 2 (committed with the client)", id, len(secrets), err)
		}
	}
	t.Logf("all %d commits reported before SIGKILL survived", len(committed))
}

// TestMain lets the test binary double as the writer that
// TestCrashDurability kills: with crashEnv set it runs crashChild and never
// returns; otherwise it runs the tests as usual.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
	}
	os.Exit(m.Run())
}

// crashChild commits rows forever, reporting each one after its Commit
// returned, until it is killed.
func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	now := time.Now()
	for i := 0; ; i++ {
		id := fmt.Sprintf("u%06d", i)
		if err := s.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.com", PasswordHash: "h",
			CredentialsChangedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		// A multi-statement transaction as well as a single insert.
		if err := s.CreateClient(ctx, &store.Client{ID: "client-" + id, Name: "c", OwnerID: id,
			Type: store.ClientConfidential, Status: store.ClientActive, CreatedAt: now, UpdatedAt: now},
			[]store.ClientSecret{{ID: "a-" + id, Hash: "a", CreatedAt: now}, {ID: "b-" + id, Hash: "b", CreatedAt: now}}); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		// Unbuffered write(2) to the pipe, after Commit returned.
		fmt.Fprintf(os.Stdout, "committed %s\n", id)
	}
}
