package secret

import (
	"bytes"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	master := bytes.Repeat([]byte{7}, KeySize)
	b, err := NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Seal([]byte("seed"), "totp:u1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(s, "totp:u1"); err != nil || string(got) != "seed" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(s, "totp:u2"); err == nil {
		t.Fatal("opened under another context")
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, KeySize), rand.Reader)
	if _, err := other.Open(s, "totp:u1"); err == nil {
		t.Fatal("opened under another key")
	}
	for _, bad := range []string{"", "v1:", "v2:abc", "v1:!!!", s[:len(s)-2]} {
		if _, err := b.Open(bad, "totp:u1"); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestLoadMasterKeyGeneratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "gatehouse.key")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := LoadMasterKey("", path, false, log); err == nil {
		t.Fatal("missing key accepted without generate")
	}
	k1, err := LoadMasterKey("", path, true, log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", st.Mode(), err)
	}
	k2, err := LoadMasterKey("", path, true, log)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("second load did not read the same key")
	}
	if _, err := LoadMasterKey("bm90LWEta2V5", "", false, log); err == nil {
		t.Fatal("short key accepted")
	}
}
