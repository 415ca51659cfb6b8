// Package credential is the one format for every secret Gatehouse issues:
// access and refresh tokens, authorization codes, personal access tokens, API
// keys and client secrets.
//
// A credential reads
//
//	gth<type>_[<env>_]<43 base62 random><6 base62 checksum>
//
// where <type> is one letter (see the Kind constants), <env> is an optional
// environment label reserved for the sandbox ("test"), the random part carries
// 43·log2(62) ≈ 256 bits, and the checksum is CRC-32 (IEEE) of everything
// before it, so a secret scanner can reject noise offline. Scanners match
//
//	\bgth[acpkrs]_(?:test_)?[0-9A-Za-z]{49}\b
//
// Only a keyed hash (HMAC-SHA256 under a server pepper) is ever stored: the
// secrets are high-entropy, so a slow password hash would buy nothing and cost
// every token request milliseconds.
package credential

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Kind is the one-letter type of a credential.
type Kind byte

// The credential kinds. The letters never change once issued: scanners and
// stored prefixes depend on them.
const (
	AccessToken  Kind = 'a'
	RefreshToken Kind = 'r'
	AuthCode     Kind = 'c'
	PAT          Kind = 'p'
	APIKey       Kind = 'k'
	ClientSecret Kind = 's'
)

// String names the kind for logs and errors.
func (k Kind) String() string {
	switch k {
	case AccessToken:
		return "access_token"
	case RefreshToken:
		return "refresh_token"
	case AuthCode:
		return "authorization_code"
	case PAT:
		return "personal_access_token"
	case APIKey:
		return "api_key"
	case ClientSecret:
		return "client_secret"
	}
	return "unknown"
}

func (k Kind) valid() bool { return k.String() != "unknown" }

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen   = 43 // 43·log2(62) = 256.03 bits
	checksumLen = 6  // 62^6 > 2^32
	brand       = "gth"
)

// ErrMalformed is returned by Parse for anything that is not a well-formed
// Gatehouse credential with a correct checksum.
var ErrMalformed = errors.New("credential: malformed")

// Prefix returns the prefix of a kind in an environment ("" for live).
func Prefix(k Kind, env string) string {
	if env == "" {
		return brand + string(k) + "_"
	}
	return brand + string(k) + "_" + env + "_"
}

// Generate returns a new credential of kind k drawn from r (crypto/rand.Reader
// in production).
func Generate(r io.Reader, k Kind, env string) (string, error) {
	if !k.valid() {
		return "", fmt.Errorf("credential: unknown kind %q", string(k))
	}
	var b strings.Builder
	prefix := Prefix(k, env)
	b.Grow(len(prefix) + randomLen + checksumLen)
	b.WriteString(prefix)
	// Rejection sampling keeps every character uniform: bytes ≥ 248 are
	// dropped because 248 = 4·62 is the largest multiple of 62 below 256.
	buf := make([]byte, 64)
	for n := 0; n < randomLen; {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("credential: reading randomness: %w", err)
		}
		for _, c := range buf {
			if c >= 248 || n == randomLen {
				continue
			}
			b.WriteByte(alphabet[c%62])
			n++
		}
	}
	b.WriteString(checksum(b.String()))
	return b.String(), nil
}

func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out)
}

// Parsed is what Parse learns from a credential's text alone.
type Parsed struct {
	Kind Kind
	Env  string // "" for live
}

// Parse checks the shape and checksum of s without any database access.
func Parse(s string) (Parsed, error) {
	if len(s) < len(brand)+2+randomLen+checksumLen || !strings.HasPrefix(s, brand) {
		return Parsed{}, ErrMalformed
	}
	k := Kind(s[len(brand)])
	if !k.valid() || s[len(brand)+1] != '_' {
		return Parsed{}, ErrMalformed
	}
	rest := s[len(brand)+2:]
	env := ""
	if len(rest) > randomLen+checksumLen {
		i := strings.IndexByte(rest, '_')
		if i <= 0 {
			return Parsed{}, ErrMalformed
		}
		env, rest = rest[:i], rest[i+1:]
		if env != "test" {
			return Parsed{}, ErrMalformed
		}
	}
	if len(rest) != randomLen+checksumLen {
		return Parsed{}, ErrMalformed
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return Parsed{}, ErrMalformed
		}
	}
	body := s[:len(s)-checksumLen]
	if subtle.ConstantTimeCompare([]byte(checksum(body)), []byte(s[len(s)-checksumLen:])) != 1 {
		return Parsed{}, ErrMalformed
	}
	return Parsed{Kind: k, Env: env}, nil
}

// Hasher computes the keyed hash under which credentials are stored and
// looked up. The pepper never leaves the server, so a database dump alone
// cannot confirm a guessed token.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher for a pepper of at least 32 bytes.
func NewHasher(pepper []byte) (*Hasher, error) {
	if len(pepper) < 32 {
		return nil, errors.New("credential: pepper must be at least 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), pepper...)}, nil
}

// Hash returns hex(HMAC-SHA256(pepper, secret)).
func (h *Hasher) Hash(secret string) string {
	m := hmac.New(sha256.New, h.key)
	io.WriteString(m, secret)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// Equal compares two secrets or hashes in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// SandboxLabel is the environment label every credential a sandbox
// deployment issues carries in its prefix (gth<type>_test_…).
const SandboxLabel = "test"

// EnvLabel returns the credential label of a deployment environment (the
// `environment` setting): SandboxLabel for "sandbox", "" for production.
func EnvLabel(environment string) string {
	if environment == "sandbox" {
		return SandboxLabel
	}
	return ""
}

// ErrWrongEnvironment is returned by CheckEnv for a well-formed credential
// of the other environment. Its text is safe to send to the client: it
// tells a developer who pasted a sandbox key into production (or the
// reverse) what went wrong, and reveals nothing a prefix does not.
type ErrWrongEnvironment struct {
	// Sandbox: the credential is a sandbox one (and the server is not).
	Sandbox bool
}

func (e *ErrWrongEnvironment) Error() string {
	if e.Sandbox {
		return "this is a sandbox credential: use it with the sandbox server, not production"
	}
	return "this is a production credential: this is a sandbox server"
}

// CheckEnv is the one rule every validator applies: a credential is only
// accepted by a server of its own environment (label, as EnvLabel returns).
func CheckEnv(p Parsed, label string) error {
	if p.Env == label {
		return nil
	}
	return &ErrWrongEnvironment{Sandbox: p.Env == SandboxLabel}
}
