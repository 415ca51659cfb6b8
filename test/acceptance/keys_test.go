package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

func jwksKIDs(t *testing.T, base string) map[string]string {
	t.Helper()
	res, err := http.Get(base + "/oauth/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatalf("the JWKS publishes a private key")
		}
		out[k.KID] = k.Alg
	}
	return out
}

// TestReplicasShareRotatedKeys: two servers on one PostgreSQL publish the
// same keys; a rotation made with the CLI reaches both JWKS within the
// reload interval.
func TestReplicasShareRotatedKeys(t *testing.T) {
	url := pgtest.URL(t)
	dsn, drop, err := postgres.NewSchema(context.Background(), url, "keys")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drop() })
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"GATEHOUSE_DATABASE=" + dsn, "GATEHOUSE_MASTER_KEY=" + base64Std(key), "GATEHOUSE_SIGNING_KEY_RELOAD=1s"}
	run := func(args ...string) string {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("migrate", "up")
	var bases []string
	for i := 0; i < 2; i++ {
		addr := freeAddr(t)
		p := start(t, t.TempDir(), append(env, "GATEHOUSE_ADDR="+addr), "serve")
		waitReady(t, p, "http://"+addr, 30*time.Second)
		bases = append(bases, "http://"+addr)
	}
	a, b := jwksKIDs(t, bases[0]), jwksKIDs(t, bases[1])
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("want one key per algorithm on both replicas, got %v and %v", a, b)
	}
	for kid := range a {
		if _, ok := b[kid]; !ok {
			t.Fatalf("replicas publish different keys: %v vs %v", a, b)
		}
	}
	out := run("keys", "rotate", "--alg", "EdDSA", "--output", "json")
	var rotated []struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || len(rotated) != 1 {
		t.Fatalf("keys rotate output %q: %v", out, err)
	}
	for _, base := range bases {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, ok := jwksKIDs(t, base)[rotated[0].KID]; ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the rotated key did not reach the JWKS within 30s (reload is 1s)", base)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	list := run("keys", "list")
	if !strings.Contains(list, rotated[0].KID) || !strings.Contains(list, "pending") {
		t.Fatalf("keys list does not show the pending key:\n%s", list)
	}
}
