package credential

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Redacted replaces the secret part of a credential in logs. The prefix
// before it (gthp_, gthk_test_, …) stays, so an operator still sees which
// kind of credential was there.
const Redacted = "…[redacted]"

// Redact returns s with every credential-shaped run — gth, a kind letter, an
// underscore, an optional "test_", then base62 characters — cut down to its
// prefix plus Redacted. It matches more than Parse accepts (any length, no
// checksum test, no word boundary) on purpose: a truncated or mistyped token,
// or one glued to other text in a URL, is still a secret.
//
// The common case, text without "gth", costs one substring search and no
// allocation: the access log calls this for every line.
func Redact(s string) string {
	if !strings.Contains(s, brand) {
		return s
	}
	var b strings.Builder
	last, from := 0, 0 // s[last:] is not copied yet; search from s[from:]
	for {
		i := strings.Index(s[from:], brand)
		if i < 0 {
			break
		}
		start := from + i
		prefixEnd, end := secretSpan(s, start)
		if end == prefixEnd { // "gth" but no secret after it
			from = start + len(brand)
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:prefixEnd])
		b.WriteString(Redacted)
		last, from = end, end
	}
	if last == 0 {
		return s // nothing redacted: no copy
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretSpan looks at the "gth" at s[start:]: when a credential prefix
// follows, it returns where the prefix ends and where the base62 run after it
// ends (equal when the run is empty: nothing to hide).
func secretSpan(s string, start int) (prefixEnd, end int) {
	p := start + len(brand)
	if p+2 > len(s) || !Kind(s[p]).valid() || s[p+1] != '_' {
		return start, start
	}
	p += 2
	if strings.HasPrefix(s[p:], "test_") {
		p += len("test_")
	}
	e := p
	for e < len(s) && isBase62(s[e]) {
		e++
	}
	return p, e
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// RedactHandler wraps a slog.Handler so that no credential reaches the log,
// whatever code logs it and however: the message, every attribute (inside
// groups too, and those bound with Logger.With), errors and other values
// rendered as text. Install it where the process logger is built.
type RedactHandler struct{ next slog.Handler }

// NewRedactHandler returns h wrapped in a RedactHandler.
func NewRedactHandler(h slog.Handler) *RedactHandler { return &RedactHandler{next: h} }

// Enabled implements slog.Handler.
func (h *RedactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler. A record with nothing to redact (the
// common case: one substring search per string attribute) is passed on as
// is, without copying.
func (h *RedactHandler) Handle(ctx context.Context, r slog.Record) error {
	dirty := strings.Contains(r.Message, brand)
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			dirty = needsRedaction(a.Value)
			return !dirty
		})
	}
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return &RedactHandler{next: h.next.WithAttrs(clean)}
}

// WithGroup implements slog.Handler.
func (h *RedactHandler) WithGroup(name string) slog.Handler {
	return &RedactHandler{next: h.next.WithGroup(Redact(name))}
}

// needsRedaction reports whether v would show "gth" once rendered.
func needsRedaction(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return strings.Contains(v.String(), brand)
	case slog.KindGroup:
		for _, a := range v.Group() {
			if strings.Contains(a.Key, brand) || needsRedaction(a.Value) {
				return true
			}
		}
		return false
	case slog.KindAny, slog.KindLogValuer:
		return true // rendered below, then searched
	}
	return false // numbers, bools, times, durations
}

func redactAttr(a slog.Attr) slog.Attr {
	return slog.Attr{Key: Redact(a.Key), Value: redactValue(a.Value)}
}

func redactValue(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, a := range g {
			out[i] = redactAttr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		// Errors, Stringers, slices, structs: what the handler would print
		// is searched; only a value that holds a credential is replaced by
		// its redacted text, others keep their kind (JSON arrays stay arrays).
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if red := Redact(text); red != text {
			return slog.StringValue(red)
		}
	}
	return v
}
