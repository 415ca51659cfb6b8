package oauth

import (
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com:8443/cb?x=1", true},
		{"https://app.example.com", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:53682/callback", true},
		{"http://[::1]/cb", true},
		{"http://[::1]:8080/cb", true},
		{"http://localhost/callback", false},       // RFC 8252 §8.3
		{"http://localhost:8080/cb", false},        // RFC 8252 §8.3
		{"http://app.example.com/callback", false}, // http only on loopback
		{"http://127.0.0.2/cb", false},
		{"http://127.0.0.1.evil.com/cb", false},
		{"http://[::1]x/cb", false},
		{"http://127.0.0.1:99999/cb", false},
		{"https://app.example.com/cb#frag", false}, // RFC 6749 §3.1.2
		{"https://app.example.com/cb#", false},
		{"https://*.example.com/cb", false}, // no wildcards
		{"https://app.example.com/*", false},
		{"https://user:pw@app.example.com/cb", false},
		{"/relative/path", false},
		{"app.example.com/cb", false},
		{"", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"ftp://example.com/cb", false},
		{"com.example.app:/callback", false}, // private-use schemes are not offered
		{"HTTPS://app.example.com/cb", false},
		{"https:///cb", false},
		{"https://app.example.com/c b", false},
		{"https://app.example.com/\x00", false},
		{"https://app.example.com/é", false},
		{"https://" + strings.Repeat("a", MaxRedirectURILength) + ".com/", false},
	}
	for _, tt := range tests {
		err := ValidateRedirectURI(tt.uri)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
		}
	}
}

func TestMatchRedirectURI(t *testing.T) {
	reg := []string{
		"https://app.example.com/callback",
		"https://app.example.com/cb?tenant=1",
		"http://127.0.0.1/native",
		"http://[::1]:1234/v6",
	}
	tests := []struct {
		req string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com/cb?tenant=1", true},
		// exact string matching (RFC 9700 §4.1.3): no normalisation at all
		{"https://app.example.com/callback/", false},
		{"https://APP.example.com/callback", false},
		{"https://app.example.com:443/callback", false},
		{"https://app.example.com/callback?x=1", false},
		{"https://app.example.com/callback#f", false},
		{"https://app.example.com/Callback", false},
		{"https://app.example.com/cb?tenant=2", false},
		{"https://app.example.com/%63allback", false},
		{"https://app.example.com/callback/../callback", false},
		{"http://app.example.com/callback", false},
		{"", false},
		// loopback: any port (RFC 8252 §7.3), everything else exact
		{"http://127.0.0.1/native", true},
		{"http://127.0.0.1:50123/native", true},
		{"http://127.0.0.1:1/native", true},
		{"http://127.0.0.1:50123/native2", false},
		{"http://127.0.0.1:50123/native?x", false},
		{"http://127.0.0.1:50123/native#x", false},
		{"http://127.0.0.1:/native", false},
		{"http://127.0.0.1:abc/native", false},
		{"http://127.0.0.1:999999/native", false},
		{"http://[::1]/native", false}, // a different host literal
		{"http://[::1]/v6", true},
		{"http://[::1]:9/v6", true},
		{"http://127.0.0.1:9/v6", false},
		{"https://127.0.0.1:9/native", false},
		{"http://localhost:9/native", false},
	}
	for _, tt := range tests {
		if got := MatchRedirectURI(reg, tt.req); got != tt.ok {
			t.Errorf("MatchRedirectURI(%q) = %v, want %v", tt.req, got, tt.ok)
		}
	}
}

func TestResolveRedirectURI(t *testing.T) {
	one := []string{"https://a.example/cb"}
	two := []string{"https://a.example/cb", "https://a.example/cb2"}
	if got, err := ResolveRedirectURI(one, ""); err != nil || got != one[0] {
		t.Errorf("single registered, omitted: %q %v", got, err)
	}
	if _, err := ResolveRedirectURI(two, ""); err == nil {
		t.Error("two registered, omitted: want error (RFC 6749 §3.1.2.3)")
	}
	if _, err := ResolveRedirectURI(nil, ""); err == nil {
		t.Error("none registered: want error")
	}
	if got, err := ResolveRedirectURI(two, "https://a.example/cb2"); err != nil || got != "https://a.example/cb2" {
		t.Errorf("explicit: %q %v", got, err)
	}
	if _, err := ResolveRedirectURI(two, "https://evil.example/cb"); err == nil {
		t.Error("mismatch: want error")
	}
	if got, err := ResolveRedirectURI([]string{"http://127.0.0.1/cb"}, "http://127.0.0.1:4242/cb"); err != nil || got != "http://127.0.0.1:4242/cb" {
		t.Errorf("loopback: %q %v", got, err)
	}
}

// FuzzMatchRedirectURI: a match is always either the identical string or a
// loopback URI that differs from a registered one only in its port; and
// anything that matches a valid registration never carries a fragment or
// points to another host.
func FuzzMatchRedirectURI(f *testing.F) {
	f.Add("https://app.example.com/cb", "https://app.example.com/cb")
	f.Add("http://127.0.0.1/cb", "http://127.0.0.1:8080/cb")
	f.Add("http://[::1]:80/cb", "http://[::1]/cb#x")
	f.Add("http://127.0.0.1/cb", "http://127.0.0.1:8080@evil.com/cb")
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if ValidateRedirectURI(registered) != nil {
			return
		}
		if !MatchRedirectURI([]string{registered}, requested) {
			return
		}
		if requested == registered {
			return
		}
		a, ok1 := loopbackWithoutPort(registered)
		b, ok2 := loopbackWithoutPort(requested)
		if !ok1 || !ok2 || a != b {
			t.Fatalf("%q matched %q without being equal or a loopback port variant", requested, registered)
		}
		if strings.Contains(requested, "#") || strings.Contains(requested, "@") {
			t.Fatalf("%q matched with a fragment or user info", requested)
		}
		if ValidateRedirectURI(requested) != nil {
			t.Fatalf("%q matched %q but is not itself a valid redirect URI", requested, registered)
		}
	})
}

// FuzzValidateRedirectURI: whatever is accepted is https, or http on a
// loopback literal, and never has a fragment, wildcard or user info.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1:1/x", "http://localhost/", "https://a#b", "http://[::1]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateRedirectURI(s) != nil {
			return
		}
		if strings.ContainsAny(s, "#*@ ") {
			t.Fatalf("accepted %q", s)
		}
		if !strings.HasPrefix(s, "https://") {
			if _, ok := loopbackWithoutPort(s); !ok {
				t.Fatalf("accepted non-https, non-loopback %q", s)
			}
		}
	})
}
