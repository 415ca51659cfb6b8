package oauth

import (
	"encoding/base64"
	"net/url"
	"testing"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestParseClientCredentials(t *testing.T) {
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		header string
		body   url.Values
		want   ClientCredentials
		errOK  bool // true: expect invalid_client
	}{
		{"basic", basic("app", "s3cret"), nil, ClientCredentials{"app", "s3cret", AuthMethodBasic}, false},
		{"basic lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("app:x")), nil, ClientCredentials{"app", "x", AuthMethodBasic}, false},
		// RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
		{"basic form-urlencoded", basic(url.QueryEscape("my app:1"), url.QueryEscape("p+ss:w%rd é")), nil, ClientCredentials{"my app:1", "p+ss:w%rd é", AuthMethodBasic}, false},
		{"basic plus is space", basic("a+b", "c+d"), nil, ClientCredentials{"a b", "c d", AuthMethodBasic}, false},
		{"basic colon in secret", basic("app", "a:b"), nil, ClientCredentials{"app", "a:b", AuthMethodBasic}, false},
		{"basic with same client_id in body", basic("app", "x"), form("client_id", "app"), ClientCredentials{"app", "x", AuthMethodBasic}, false},
		{"basic with other client_id in body", basic("app", "x"), form("client_id", "other"), ClientCredentials{}, true},
		{"basic and post at once", basic("app", "x"), form("client_id", "app", "client_secret", "x"), ClientCredentials{}, true},
		{"basic and empty client_secret", basic("app", "x"), form("client_secret", ""), ClientCredentials{}, true},
		{"basic bad base64", "Basic !!!", nil, ClientCredentials{}, true},
		{"basic no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("app")), nil, ClientCredentials{}, true},
		{"basic bad escape", basic("app", "%zz"), nil, ClientCredentials{}, true},
		{"basic empty id", basic("", "x"), nil, ClientCredentials{}, true},
		{"bearer header", "Bearer abc", nil, ClientCredentials{}, true},
		{"post", "", form("client_id", "app", "client_secret", "s"), ClientCredentials{"app", "s", AuthMethodPost}, false},
		{"public", "", form("client_id", "app"), ClientCredentials{"app", "", AuthMethodNone}, false},
		{"nothing", "", form(), ClientCredentials{}, true},
		{"secret without id", "", form("client_secret", "s"), ClientCredentials{}, true},
	}
	for _, tt := range tests {
		body := tt.body
		if body == nil {
			body = url.Values{}
		}
		got, err := ParseClientCredentials(tt.header, body)
		if tt.errOK {
			if err == nil || err.Code != CodeInvalidClient || err.Status != 401 {
				t.Errorf("%s: got %+v, %v; want invalid_client", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func FuzzParseBasicAuth(f *testing.F) {
	f.Add("app", "secret")
	f.Add("a:b", "c%d")
	f.Fuzz(func(t *testing.T, id, secret string) {
		h := basic(url.QueryEscape(id), url.QueryEscape(secret))
		gotID, gotSecret, ok, err := ParseBasicAuth(h)
		if id == "" {
			if err == nil {
				t.Fatal("empty id accepted")
			}
			return
		}
		if !ok || err != nil || gotID != id || gotSecret != secret {
			t.Fatalf("round trip (%q,%q) → (%q,%q,%v,%v)", id, secret, gotID, gotSecret, ok, err)
		}
	})
}
