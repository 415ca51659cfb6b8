package safetext

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want error
	}{
		{"", 10, nil},
		{"client-123", 10, nil},
		{"Zoë 日本 🙂", 0, nil},
		{"tab\there", 0, ErrControl},
		{"nul\x00", 0, ErrControl},
		{"del\x7f", 0, ErrControl},
		{"c1\u0085", 0, ErrControl},
		{"bad\xff", 0, ErrInvalidUTF8},
		{"half\xe6\x97", 0, ErrInvalidUTF8},
		{"surrogate\xed\xa0\x80", 0, ErrInvalidUTF8},
		{"12345678901", 10, ErrTooLong},
	}
	for _, c := range cases {
		if got := Check(c.in, c.max); !errors.Is(got, c.want) {
			t.Errorf("Check(%q, %d) = %v, want %v", c.in, c.max, got, c.want)
		}
	}
}

func TestParamsAndValues(t *testing.T) {
	v := url.Values{"client_id": {"ok", "bad\xff"}, "utm": {"\x00"}}
	err := Params(v, 100, "client_id", "scope")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "client_id" || !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Params = %v, want client_id invalid UTF-8", err)
	}
	if err.Error() != "client_id is not valid UTF-8" {
		t.Errorf("message %q", err.Error())
	}
	// Unrecognised parameters are not looked at.
	if err := Params(url.Values{"utm": {"\x00"}, "scope": {"a b"}}, 100, "scope"); err != nil {
		t.Errorf("Params looked at an unrecognised parameter: %v", err)
	}
	// Values looks at everything, names included.
	if err := Values(url.Values{"email": {"a@b"}, "x\xff": {"1"}}, 100); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("Values with a bad name = %v", err)
	}
	if err := Values(url.Values{"name": {"a\x00"}}, 100); !errors.Is(err, ErrControl) {
		t.Errorf("Values with NUL = %v", err)
	}
}

func TestSanitize(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"Mozilla/5.0 (X11) Firefox/140.0", 256, "Mozilla/5.0 (X11) Firefox/140.0"},
		{"a\xffb\x00c\x1bd", 256, "a\uFFFDb\uFFFDc\uFFFDd"},
		{"日本語", 7, "日本"}, // never cut inside a character
		{"abcdef", 3, "abc"},
		{"\xff\xff", 4, "\uFFFD"}, // U+FFFD is 3 bytes
	}
	for _, c := range cases {
		got := Sanitize(c.in, c.max)
		if got != c.want {
			t.Errorf("Sanitize(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if Check(got, c.max) != nil || !utf8.ValidString(got) {
			t.Errorf("Sanitize(%q) = %q does not pass Check", c.in, got)
		}
	}
	if s := strings.Repeat("x", 100); Sanitize(s, 0) != s {
		t.Error("max 0 must mean no cap")
	}
}
