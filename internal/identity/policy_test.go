package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestBlocklistLoads(t *testing.T) {
	b, err := LoadBlocklist()
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() < 90000 {
		t.Fatalf("only %d common passwords loaded", b.Len())
	}
	for _, pw := range []string{"password", "12345678", "iloveyou", "PASSWORD1", "qwertyuiop", "baseball"} {
		if !b.Contains(pw) {
			t.Errorf("%q not on the list", pw)
		}
	}
	if b.Contains("vivid-otter-anchors-lamp") {
		t.Error("random passphrase on the list")
	}
}

func TestPasswordPolicy(t *testing.T) {
	b, err := LoadBlocklist()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, pw string
		reason   string // "" = accepted
	}{
		{"7 chars", "aZ3$kq9", "too_short"},
		{"8 chars", "gQ7#vLp2", ""},
		{"7 runes of multibyte", "ñçøπ∂ƒ©", "too_short"},
		{"8 runes of multibyte", "ñçøπ∂ƒ©µ", ""},
		{"64 chars", strings.Repeat("horse-battery-", 4) + "staple-x", ""},
		{"256 runes", strings.Repeat("Tr0ub4dor&3 zq ", 18)[:256], ""},
		{"257 runes", strings.Repeat("Tr0ub4dor&3 zq ", 18)[:257], "too_long"},
		{"spaces and emoji", "correct horse 🐎 battery", ""},
		{"no composition rules: all lower", "vividotteranchorslamp", ""},
		{"common", "password1", "common"},
		{"common any case", "PassWord123", "common"},
		{"common with decoration", "sunshine2024!", "common"},
		{"common from list", "iloveyou", "common"},
		{"repetitive", "aaaaaaaaaaaa", "common"},
		{"alternating", "abababababab", "common"},
		{"sequential", "123456789012", "common"},
		{"sequential letters", "abcdefghij", "common"},
		{"descending", "987654321", "common"},
		{"control char", "abc\x00defghij", "invalid"},
		{"email local part", "jonathan.doe2024", "context"},
		{"email itself", "jonathan.doe@example.com", "context"},
		{"service name", "gatehouse123", "context"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := b.CheckPassword(NormalizePassword(c.pw), "jonathan.doe@example.com", "Jonathan Doe", "gatehouse")
			var pe *PolicyError
			switch {
			case c.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.reason != "" && !errors.As(err, &pe):
				t.Fatalf("accepted, want %s", c.reason)
			case c.reason != "" && pe.Reason != c.reason:
				t.Fatalf("reason %q (%s), want %q", pe.Reason, pe.Message, c.reason)
			}
		})
	}
}

func FuzzCheckPassword(f *testing.F) {
	b, err := LoadBlocklist()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("password", "a@b.c")
	f.Add("ñçøπ∂ƒ©µ", "")
	f.Fuzz(func(t *testing.T, pw, email string) {
		_ = b.CheckPassword(NormalizePassword(pw), email)
	})
}
