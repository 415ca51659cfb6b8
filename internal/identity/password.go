package identity

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters (RFC 9106).
//
// The defaults follow the OWASP Password Storage Cheat Sheet's first
// recommendation for argon2id: "a minimum configuration of 19 MiB of memory,
// an iteration count of 2, and 1 degree of parallelism". Raising any of them
// later is safe: stored hashes keep their own parameters, verify with them, and
// are re-hashed with the new ones on the next successful sign-in (NeedsRehash).
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultArgon2Params returns the OWASP parameters: m=19456 KiB, t=2, p=1,
// a 16-byte salt and a 32-byte hash.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func (p Argon2Params) validate() error {
	switch {
	case p.Memory < 8*uint32(max(p.Parallelism, 1)):
		return errors.New("argon2 memory must be at least 8 KiB per lane")
	case p.Iterations < 1:
		return errors.New("argon2 iterations must be at least 1")
	case p.Parallelism < 1:
		return errors.New("argon2 parallelism must be at least 1")
	case p.SaltLength < 16:
		return errors.New("argon2 salt must be at least 16 bytes")
	case p.KeyLength < 16:
		return errors.New("argon2 key must be at least 16 bytes")
	}
	return nil
}

// ErrMalformedHash means a stored password hash is not an argon2id PHC string.
var ErrMalformedHash = errors.New("identity: malformed password hash")

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// HashPassword returns the PHC string
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// of the password (already normalised by the caller), salted from random.
func HashPassword(password string, p Argon2Params, random io.Reader) (string, error) {
	salt := make([]byte, p.SaltLength)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("identity: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

func parsePHC(s string) (phc, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, ErrMalformedHash
	}
	var out phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return phc{}, ErrMalformedHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return phc{}, ErrMalformedHash
		}
		switch k {
		case "m":
			out.params.Memory = uint32(n)
		case "t":
			out.params.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, ErrMalformedHash
			}
			out.params.Parallelism = uint8(n)
		default:
			return phc{}, ErrMalformedHash
		}
	}
	var err error
	if out.salt, err = b64.DecodeString(parts[4]); err != nil {
		return phc{}, ErrMalformedHash
	}
	if out.key, err = b64.DecodeString(parts[5]); err != nil {
		return phc{}, ErrMalformedHash
	}
	out.params.SaltLength = uint32(len(out.salt))
	out.params.KeyLength = uint32(len(out.key))
	// Refuse absurd stored costs rather than let a tampered row allocate
	// gigabytes: 4 GiB and 64 passes are far beyond any sane setting.
	if out.params.Memory == 0 || out.params.Memory > 4<<20 || out.params.Iterations == 0 ||
		out.params.Iterations > 64 || out.params.Parallelism == 0 || len(out.key) < 16 || len(out.salt) < 8 {
		return phc{}, ErrMalformedHash
	}
	return out, nil
}

// VerifyPassword reports whether password matches the PHC string, comparing
// in constant time. It uses the parameters stored in the hash.
func VerifyPassword(password, encoded string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// NeedsRehash reports whether a stored hash was made with parameters other
// than p (or is not an argon2id PHC string at all), so that it should be
// replaced after the next successful verification.
func NeedsRehash(encoded string, p Argon2Params) bool {
	h, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return h.params.Memory != p.Memory || h.params.Iterations != p.Iterations ||
		h.params.Parallelism != p.Parallelism || h.params.KeyLength != p.KeyLength ||
		h.params.SaltLength < p.SaltLength
}
