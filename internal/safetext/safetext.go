// Package safetext is the one definition of what text from outside —
// request parameters, path segments, form fields, command-line arguments —
// may reach the store, and of how header values are made storable.
//
// Both backends must give the same answer to the same input. PostgreSQL's
// TEXT refuses invalid UTF-8 and NUL (SQLSTATE 22021) while SQLite stores any
// bytes, so text that is not checked first is a 500 on one backend and a
// silently stored oddity on the other. Checking once, where a request is
// parsed, turns both into the same precise 4xx before anything is written.
package safetext

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Problems Check reports. They read as the end of a sentence whose subject is
// the field ("client_id is not valid UTF-8").
var (
	ErrInvalidUTF8 = errors.New("is not valid UTF-8")
	ErrControl     = errors.New("contains a control character")
	ErrTooLong     = errors.New("is too long")
)

// Check reports whether s is acceptable single-line text of at most max bytes
// (max <= 0: no cap): valid UTF-8, with no control characters — C0 (NUL
// included), DEL and C1. Nothing Gatehouse stores is multi-line, and a
// control character in an identifier, email or name is never intended.
func Check(s string, max int) error {
	if max > 0 && len(s) > max {
		return ErrTooLong
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f { // printable ASCII: the common case
			i++
			continue
		}
		if c < 0x80 {
			return ErrControl // C0 or DEL
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrInvalidUTF8
		}
		if r >= 0x80 && r <= 0x9f {
			return ErrControl // C1
		}
		i += size
	}
	return nil
}

// FieldError names the parameter whose text was refused.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + " " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Field is Check with the parameter's name in the error.
func Field(name, value string, max int) error {
	if err := Check(value, max); err != nil {
		return &FieldError{Field: name, Err: err}
	}
	return nil
}

// Params checks every value of the named parameters in v (other parameters
// are not looked at: RFC 6749 §3.1 and §3.2 say unrecognised parameters MUST
// be ignored). It returns the first problem as a *FieldError.
func Params(v url.Values, max int, names ...string) error {
	for _, n := range names {
		for _, val := range v[n] {
			if err := Field(n, val, max); err != nil {
				return err
			}
		}
	}
	return nil
}

// Values checks every name and value in v — for forms Gatehouse renders
// itself, where no parameter is foreign. Names are reported only when they
// are themselves valid text, so the error can be shown.
func Values(v url.Values, max int) error {
	for name, vals := range v {
		if err := Check(name, max); err != nil {
			return &FieldError{Field: "a parameter name", Err: err}
		}
		for _, val := range vals {
			if err := Field(name, val, max); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sanitize makes a header value storable instead of refusing it: a browser
// cannot be asked to change its User-Agent, and a correct sign-in must not
// fail over it. Invalid bytes and control characters become U+FFFD, and the
// result is cut to at most max bytes on a character boundary.
func Sanitize(s string, max int) string {
	if Check(s, max) == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r == utf8.RuneError && size == 1) {
			r = utf8.RuneError
		}
		if max > 0 && b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
