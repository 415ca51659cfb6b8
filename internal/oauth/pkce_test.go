package oauth

import (
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestS256ChallengeRFCVector(t *testing.T) {
	if got := S256Challenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("S256Challenge = %q, want %q", got, rfcChallenge)
	}
}

func TestValidateCodeChallenge(t *testing.T) {
	tests := []struct {
		challenge, method string
		ok                bool
	}{
		{rfcChallenge, "S256", true},
		{rfcChallenge, "plain", false},
		{rfcChallenge, "", false}, // defaults to plain (RFC 7636 §4.3)
		{rfcChallenge, "s256", false},
		{rfcChallenge, "S512", false},
		{"", "S256", false},
		{"", "", false},
		{rfcChallenge[:42], "S256", false},
		{rfcChallenge + "A", "S256", false},
		{rfcChallenge[:42] + "=", "S256", false},
		{rfcChallenge[:42] + "+", "S256", false},
		{rfcChallenge[:42] + "/", "S256", false},
	}
	for _, tt := range tests {
		err := ValidateCodeChallenge(tt.challenge, tt.method)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateCodeChallenge(%q, %q) = %v, want ok=%v", tt.challenge, tt.method, err, tt.ok)
		}
	}
}

func TestVerifyPKCE(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name                        string
		verifier, challenge, method string
		ok                          bool
	}{
		{"rfc vector", rfcVerifier, rfcChallenge, "S256", true},
		{"max length", long, S256Challenge(long), "S256", true},
		{"all unreserved", strings.Repeat("aZ09-._~", 6), S256Challenge(strings.Repeat("aZ09-._~", 6)), "S256", true},
		{"wrong verifier", rfcVerifier[:42] + "x", rfcChallenge, "S256", false},
		{"missing verifier", "", rfcChallenge, "S256", false},
		{"too short", rfcVerifier[:42], S256Challenge(rfcVerifier[:42]), "S256", false},
		{"too long", long + "a", S256Challenge(long + "a"), "S256", false},
		{"bad char", strings.Repeat("a", 42) + "+", S256Challenge(strings.Repeat("a", 42) + "+"), "S256", false},
		{"plain stored", rfcVerifier, rfcVerifier, "plain", false},
		{"verifier is challenge", rfcChallenge, rfcChallenge, "S256", false},
		{"no challenge, no verifier", "", "", "", true},
		{"downgrade: verifier without challenge", rfcVerifier, "", "", false}, // RFC 9700 §2.1.1
	}
	for _, tt := range tests {
		err := VerifyPKCE(tt.verifier, tt.challenge, tt.method)
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyPKCE = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzVerifyPKCE(f *testing.F) {
	f.Add(rfcVerifier, rfcChallenge)
	f.Add(strings.Repeat("~", 43), "")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		err := VerifyPKCE(verifier, challenge, PKCEMethodS256)
		if err == nil && challenge != "" && S256Challenge(verifier) != challenge {
			t.Fatalf("accepted verifier %q for challenge %q", verifier, challenge)
		}
		if err == nil && challenge != "" && ValidateCodeVerifier(verifier) != nil {
			t.Fatalf("accepted malformed verifier %q", verifier)
		}
		if err == nil && challenge == "" && verifier != "" {
			t.Fatal("accepted a verifier without a challenge")
		}
		// A valid verifier always verifies against its own challenge.
		if ValidateCodeVerifier(verifier) == nil {
			c := S256Challenge(verifier)
			if ValidateCodeChallenge(c, PKCEMethodS256) != nil || VerifyPKCE(verifier, c, PKCEMethodS256) != nil {
				t.Fatalf("round trip failed for %q", verifier)
			}
		}
	})
}
