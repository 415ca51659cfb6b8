package credential

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustGenerate(t testing.TB, k Kind, env string) string {
	t.Helper()
	s, err := Generate(rand.Reader, k, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedact(t *testing.T) {
	pat := mustGenerate(t, PAT, "")
	key := mustGenerate(t, APIKey, "test")
	secret := mustGenerate(t, ClientSecret, "")
	cases := []struct{ in, want string }{
		{"", ""},
		{"GET /v0/me", "GET /v0/me"},
		{"/v0/me/tokens/" + pat, "/v0/me/tokens/gthp_" + Redacted},
		{"key=" + key + "&x=1", "key=gthk_test_" + Redacted + "&x=1"},
		{pat + " and " + secret, "gthp_" + Redacted + " and gths_" + Redacted},
		// Truncated, glued to other text, or a wrong checksum: still a secret.
		{"x" + pat[:20], "xgthp_" + Redacted},
		{"Bearer" + pat + "!", "Bearergthp_" + Redacted + "!"},
		{"gthp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "gthp_" + Redacted},
		// Not credentials: left alone.
		{"the gthp_ prefix", "the gthp_ prefix"},
		{"gthx_abc gth gth_ gthp", "gthx_abc gth gth_ gthp"},
		{"gthgthp_abc", "gthgthp_" + Redacted},
		{"ends with gth", "ends with gth"},
	}
	for _, c := range cases {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactKeepsCleanStringsWithoutCopy(t *testing.T) {
	for _, s := range []string{"GET /v0/me 200", "a gth b", "gthx_123"} {
		if n := testing.AllocsPerRun(100, func() { _ = Redact(s) }); n != 0 {
			t.Errorf("Redact(%q): %v allocations, want 0", s, n)
		}
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestRedactHandler(t *testing.T) {
	pat := mustGenerate(t, PAT, "")
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var inner slog.Handler = slog.NewJSONHandler(&buf, nil)
			if format == "text" {
				inner = slog.NewTextHandler(&buf, nil)
			}
			log := slog.New(NewRedactHandler(inner))
			log = log.With("bound", "token "+pat).WithGroup("g")
			log.Info("message with "+pat,
				"path", "/v0/me/tokens/"+pat,
				"err", fmt.Errorf("revoking %s: %w", pat, errors.New("boom")),
				"stringer", stringer{pat},
				"list", []string{"a", pat},
				slog.Group("nested", slog.String("inner", pat)),
				"count", 3)
			out := buf.String()
			if strings.Contains(out, pat[5:]) || strings.Contains(out, pat[5:25]) {
				t.Fatalf("the secret reached the log:\n%s", out)
			}
			if c := strings.Count(out, "gthp_"+Redacted); c != 7 {
				t.Errorf("%d redacted credentials in the log, want 7 (kind kept):\n%s", c, out)
			}
			if !strings.Contains(out, "count") || !strings.Contains(out, "3") {
				t.Errorf("other attributes lost:\n%s", out)
			}
		})
	}
}

// TestRedactHandlerPassesCleanRecords: a record without credentials reaches
// the wrapped handler unchanged (same attributes, same kinds).
func TestRedactHandlerPassesCleanRecords(t *testing.T) {
	var plain, wrapped bytes.Buffer
	emit := func(h slog.Handler) {
		slog.New(h).Info("request", "path", "/v0/me", "status", 200, "list", []string{"a", "b"})
	}
	emit(slog.NewJSONHandler(&plain, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	emit(NewRedactHandler(slog.NewJSONHandler(&wrapped, &slog.HandlerOptions{ReplaceAttr: dropTime})))
	if plain.String() != wrapped.String() {
		t.Fatalf("wrapped output differs:\n%s\n%s", plain.String(), wrapped.String())
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func BenchmarkRedact(b *testing.B) {
	pat := mustGenerate(b, PAT, "")
	for _, bc := range []struct{ name, s string }{
		{"clean", "/v0/apps/6f1c2a8e-3b7d-4d59-9a51-0c2e4b7f9d10/keys"},
		{"credential", "/v0/me/tokens/" + pat},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Redact(bc.s)
			}
		})
	}
}

// BenchmarkAccessLogLine compares one access-log line through the JSON
// handler with and without the redacting wrapper.
func BenchmarkAccessLogLine(b *testing.B) {
	pat := mustGenerate(b, PAT, "")
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		wrap bool
		path string
	}{
		{"plain", false, "/v0/me"},
		{"redacting/clean", true, "/v0/me"},
		{"redacting/credential", true, "/v0/me/tokens/" + pat},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h slog.Handler = slog.NewJSONHandler(discard{}, nil)
			if bc.wrap {
				h = NewRedactHandler(h)
			}
			log := slog.New(h)
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request",
					slog.String("request_id", "5f0c0e7d9a3b4c21a8d6e1f2"),
					slog.String("method", "GET"), slog.String("path", bc.path),
					slog.String("route", "GET /v0/me"), slog.Int("status", 200),
					slog.Duration("duration", 1234567), slog.String("remote", "192.0.2.1:51234"))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
