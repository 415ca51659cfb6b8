package identity

import (
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
	"time"
)

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordPHCFormat(t *testing.T) {
	h, err := HashPassword("correct horse battery staple", DefaultArgon2Params(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRe.MatchString(h) {
		t.Fatalf("hash %q is not the PHC string $argon2id$v=19$m=19456,t=2,p=1$salt$hash", h)
	}
	h2, _ := HashPassword("correct horse battery staple", DefaultArgon2Params(), rand.Reader)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		if ok, err := VerifyPassword(pw, h); err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

// TestVerifyKnownVector checks interoperability: a hash made by the reference
// argon2 CLI (echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e).
func TestVerifyKnownVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	ok, err := VerifyPassword("password", ref)
	if err != nil || !ok {
		t.Fatalf("reference argon2id hash not verified: %v %v", ok, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	def := DefaultArgon2Params()
	cur, _ := HashPassword("x", def, rand.Reader)
	weaker := def
	weaker.Memory = 4096
	old, _ := HashPassword("x", weaker, rand.Reader)
	fewer := def
	fewer.Iterations = 1
	oldT, _ := HashPassword("x", fewer, rand.Reader)
	cases := []struct {
		name, hash string
		want       bool
	}{
		{"current", cur, false},
		{"old memory", old, true},
		{"old iterations", oldT, true},
		{"garbage", "not a hash", true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true},
	}
	for _, c := range cases {
		if got := NeedsRehash(c.hash, def); got != c.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParsePHCRejectsMalformed(t *testing.T) {
	good, _ := HashPassword("x", Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, rand.Reader)
	parts := strings.Split(good, "$")
	cases := map[string]string{
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"missing field":  strings.Join(parts[:5], "$"),
		"bad params":     strings.Replace(good, "m=64,t=1,p=1", "m=64;t=1;p=1", 1),
		"unknown param":  strings.Replace(good, "p=1", "x=1", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=99999999", 1),
		"huge time":      strings.Replace(good, "t=1", "t=1000", 1),
		"bad base64":     good[:len(good)-3] + "!!!",
		"zero threads":   strings.Replace(good, "p=1", "p=0", 1),
		"empty":          "",
		"trailing field": good + "$x",
	}
	for name, h := range cases {
		if _, err := VerifyPassword("x", h); err == nil {
			t.Errorf("%s: %q accepted", name, h)
		}
	}
}

func TestNormalizePasswordNFKC(t *testing.T) {
	// U+FF50.. full-width letters, and "é" precomposed vs combining.
	cases := [][2]string{
		{"ｐａｓｓｗｏｒｄ", "password"},
		{"caf\u00e9 au lait", "cafe\u0301 au lait"},
		{"Å", "A\u030a"},
	}
	for _, c := range cases {
		if NormalizePassword(c[0]) != NormalizePassword(c[1]) {
			t.Errorf("%q and %q normalise differently", c[0], c[1])
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	p := DefaultArgon2Params()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", p, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPassword is the cost of one sign-in's argon2id check with the
// default (OWASP) parameters. argon2id with p=1 uses one core, so the
// sign-ins per second per core is 1e9 / ns/op.
func BenchmarkVerifyPassword(b *testing.B) {
	p := DefaultArgon2Params()
	h, _ := HashPassword("correct horse battery staple", p, rand.Reader)
	start := time.Now()
	n := 0
	for b.Loop() {
		if ok, _ := VerifyPassword("correct horse battery staple", h); !ok {
			b.Fatal("not verified")
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "verifies/s/core")
}
