package oauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TestSubjectFor: a public client is shown the user id; a pairwise client a
// value that depends on key, sector and user (and on nothing else), and a
// pairwise client without a key is an error rather than the public id.
func TestSubjectFor(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &Service{pairwiseKey: key}
	pw := func(uris ...string) *store.Client {
		return &store.Client{ID: "c", SubjectType: SubjectPairwise, RedirectURIs: uris}
	}
	sub := func(s *Service, c *store.Client, user string) string {
		t.Helper()
		v, err := s.subjectFor(c, user)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := sub(s, &store.Client{RedirectURIs: []string{"https://a.example/cb"}}, "u1"); got != "u1" {
		t.Errorf("public: %q", got)
	}
	a1 := sub(s, pw("https://a.example/cb"), "u1")
	if len(a1) != 43 { // base64url of 32 bytes, unpadded
		t.Errorf("pairwise sub %q: length %d, want 43", a1, len(a1))
	}
	for name, other := range map[string]string{
		"another user":   sub(s, pw("https://a.example/cb"), "u2"),
		"another sector": sub(s, pw("https://b.example/cb"), "u1"),
		"another key":    sub(&Service{pairwiseKey: []byte("fedcba9876543210fedcba9876543210")}, pw("https://a.example/cb"), "u1"),
	} {
		if other == a1 {
			t.Errorf("%s: same sub %q", name, a1)
		}
	}
	if same := sub(s, pw("https://A.example:8443/other"), "u1"); same != a1 {
		t.Errorf("same host, other port and path: %q, want %q", same, a1)
	}
	if v, err := (&Service{}).subjectFor(pw("https://a.example/cb"), "u1"); err == nil {
		t.Errorf("pairwise without a key answered %q", v)
	}
}

// BenchmarkPairwiseSub is the cost a pairwise client adds to each ID token,
// UserInfo answer, JWT access token and introspection.
func BenchmarkPairwiseSub(b *testing.B) {
	s := &Service{pairwiseKey: []byte("0123456789abcdef0123456789abcdef")}
	c := &store.Client{ID: "c", SubjectType: SubjectPairwise, RedirectURIs: []string{"https://app.example/cb"}}
	for b.Loop() {
		if _, err := s.subjectFor(c, "0b5c2a3e-8f1d-4c55-9a2e-1f0e7d7b9c11"); err != nil {
			b.Fatal(err)
		}
	}
}
