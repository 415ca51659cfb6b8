package credential

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
)

// scannerRegex is the pattern the package documentation publishes.
var scannerRegex = regexp.MustCompile(`\bgth[acpkrs]_(?:test_)?[0-9A-Za-z]{49}\b`)

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, k := range []Kind{AccessToken, RefreshToken, AuthCode, PAT, APIKey, ClientSecret} {
		for _, env := range []string{"", "test"} {
			s, err := Generate(rand.Reader, k, env)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, Prefix(k, env)) {
				t.Errorf("%s: missing prefix %q", s, Prefix(k, env))
			}
			if !scannerRegex.MatchString("leaked: " + s + " here") {
				t.Errorf("%s: documented regex does not match", s)
			}
			p, err := Parse(s)
			if err != nil || p.Kind != k || p.Env != env {
				t.Errorf("Parse(%s) = %+v, %v", s, p, err)
			}
		}
	}
}

func TestParseRejectsNoise(t *testing.T) {
	good, _ := Generate(rand.Reader, PAT, "")
	flipped := []byte(good)
	// Change one random character: the CRC must catch it.
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	cases := map[string]string{
		"empty":        "",
		"other vendor": "ghp_" + strings.Repeat("a", 36),
		"bad kind":     "gthx_" + good[5:],
		"bad env":      "gthp_prod_" + good[5:],
		"short":        good[:len(good)-1],
		"long":         good + "A",
		"bad char":     good[:20] + "-" + good[21:],
		"bad checksum": string(flipped),
	}
	for name, s := range cases {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: Parse(%q) accepted", name, s)
		}
	}
}

func TestGenerateUsesAllRandomness(t *testing.T) {
	// All-0xFF input is rejected by sampling and must not loop forever or
	// bias: with a reader of only high bytes, Generate must error on EOF.
	if _, err := Generate(bytes.NewReader(bytes.Repeat([]byte{0xff}, 4096)), PAT, ""); err == nil {
		t.Fatal("expected an error when randomness runs out")
	}
}

func TestHasherIsKeyed(t *testing.T) {
	h1, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	h2, _ := NewHasher(bytes.Repeat([]byte{2}, 32))
	if h1.Hash("x") == h2.Hash("x") {
		t.Fatal("hash does not depend on the pepper")
	}
	if h1.Hash("x") != h1.Hash("x") || len(h1.Hash("x")) != 64 {
		t.Fatal("hash is not a stable 64-hex-digit value")
	}
	if _, err := NewHasher([]byte("short")); err == nil {
		t.Fatal("short pepper accepted")
	}
}

func FuzzParse(f *testing.F) {
	s, _ := Generate(rand.Reader, AccessToken, "")
	f.Add(s)
	f.Add("gtha_")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse(in)
		if err == nil && !scannerRegex.MatchString(in) {
			t.Fatalf("Parse accepted %q (%+v) that the scanner regex misses", in, p)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	s, _ := Generate(rand.Reader, AccessToken, "")
	for b.Loop() {
		h.Hash(s)
	}
}

func TestCheckEnv(t *testing.T) {
	for _, c := range []struct {
		credEnv, serverEnv string
		want               string // "" accepted
	}{
		{"", "", ""},
		{SandboxLabel, SandboxLabel, ""},
		{SandboxLabel, "", "sandbox credential"},
		{"", SandboxLabel, "production credential"},
	} {
		err := CheckEnv(Parsed{Kind: PAT, Env: c.credEnv}, c.serverEnv)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("credential %q on server %q: %v, want %q", c.credEnv, c.serverEnv, err, c.want)
		}
	}
	if EnvLabel("sandbox") != SandboxLabel || EnvLabel("production") != "" || EnvLabel("") != "" {
		t.Error("EnvLabel")
	}
}
