// Package secret protects data that Gatehouse must be able to read back (TOTP
// seeds, later signing keys and webhook secrets) with an AEAD under a key
// derived from the master key, and derives the other server keys (the
// credential pepper) from the same master key with HKDF.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key length in bytes.
const KeySize = 32

// Box seals and opens values with AES-256-GCM. Sealed text reads
// "v1:<base64url(nonce||ciphertext)>"; the version leaves room for key rotation.
type Box struct {
	aead cipher.AEAD
	rand io.Reader
}

// Derive returns a subkey of the master key for one purpose (HKDF-SHA256).
func Derive(master []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, master, nil, "gatehouse/"+purpose, KeySize)
}

// NewBox builds a Box from the master key; random is the nonce source.
func NewBox(master []byte, random io.Reader) (*Box, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes, got %d", KeySize, len(master))
	}
	k, err := Derive(master, "aead-v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead, rand: random}, nil
}

// Seal encrypts plaintext bound to context (for example "totp:<user id>"), so a
// sealed value copied to another row does not open there.
func (b *Box) Seal(plaintext []byte, context string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(b.rand, nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(context))
	return "v1:" + base64.RawURLEncoding.EncodeToString(out), nil
}

// ErrOpen means a sealed value is corrupt, was sealed under another key, or
// belongs to another context.
var ErrOpen = errors.New("secret: cannot open sealed value")

// Open decrypts a value produced by Seal with the same context.
func (b *Box) Open(sealed, context string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return nil, ErrOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrOpen
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// LoadMasterKey returns the master key from, in order: the base64 value
// `encoded` (GATEHOUSE_MASTER_KEY), or the file at path. When neither exists
// and generate is true (development on the embedded store), a new key is
// written to path with mode 0600 and a loud warning is logged.
func LoadMasterKey(encoded, path string, generate bool, log *slog.Logger) ([]byte, error) {
	if encoded != "" {
		return decodeKey(encoded, "GATEHOUSE_MASTER_KEY")
	}
	if path == "" {
		return nil, errors.New("no master key: set GATEHOUSE_MASTER_KEY or master_key_file")
	}
	data, err := readKeyFile(path)
	if err == nil {
		return decodeKey(strings.TrimSpace(string(data)), path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if !generate {
		return nil, fmt.Errorf("no master key at %s: create one with `head -c 32 /dev/urandom | base64 > %s; chmod 600 %s` or set GATEHOUSE_MASTER_KEY", path, path, path)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing master key: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing master key: %w", err)
	}
	log.Warn("!!! GENERATED A NEW MASTER KEY — development only !!! Back it up: losing it loses every TOTP seed; in production set GATEHOUSE_MASTER_KEY from a secret manager", "path", path)
	return key, nil
}

// readKeyFile reads the key file, refusing one that group or others may read
// or write: whoever reads the master key opens every sealed value (TOTP
// seeds) and can check guesses against every stored credential hash, and
// whoever writes it can swap the key. The mode is taken from the opened file,
// so it is the mode of the file actually read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %#o: it must not be readable or writable by group or others; run `chmod 600 %s`", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	return data, nil
}

// KeyCheck returns the master key's check value: an HMAC-SHA256, under an
// HKDF subkey of the master key, of a fixed label. A database stores it so
// that a process started with another key notices at once instead of
// failing every client authentication and every sealed-value read later.
// It reveals nothing about the key: finding a key that matches it is as hard
// as breaking HMAC-SHA256, and the subkey is used for nothing else.
func KeyCheck(master []byte) (string, error) {
	if len(master) != KeySize {
		return "", fmt.Errorf("secret: master key must be %d bytes, got %d", KeySize, len(master))
	}
	k, err := Derive(master, "key-check-v1")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte("gatehouse master key check v1"))
	return "v1:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

func decodeKey(s, from string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("master key from %s is not base64: %w", from, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key from %s must decode to %d bytes, got %d", from, KeySize, len(key))
	}
	return key, nil
}
