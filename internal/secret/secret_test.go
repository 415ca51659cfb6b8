package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// TestKeyFileReadableByOthersRefused: a key file that group or others may
// read (or write) is refused with the chmod to run; 0600 and 0400 load.
func TestKeyFileReadableByOthersRefused(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	path := filepath.Join(t.TempDir(), "gatehouse.key")
	want, err := LoadMasterKey("", path, true, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasterKey("", path, true, log)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Fatalf("mode %#o: err = %v, want a refusal naming `chmod 600 %s`", mode, err, path)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		got, err := LoadMasterKey("", path, true, log)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("mode %#o: %v", mode, err)
		}
	}
}

// TestKeyCheck: the check value is stable for a key, differs between keys,
// and does not contain the key or its base64 form.
func TestKeyCheck(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	ca, err := KeyCheck(a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := KeyCheck(a); again != ca {
		t.Fatal("check value not stable")
	}
	if cb, _ := KeyCheck(b); cb == ca {
		t.Fatal("two keys, one check value")
	}
	if strings.Contains(ca, base64.StdEncoding.EncodeToString(a)) || strings.Contains(ca, base64.RawURLEncoding.EncodeToString(a)) {
		t.Fatal("check value contains the key")
	}
	if _, err := KeyCheck(a[:16]); err == nil {
		t.Fatal("short key accepted")
	}
}
