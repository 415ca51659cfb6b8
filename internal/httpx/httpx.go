// Package httpx holds the few HTTP response helpers every handler shares, so
// that JSON bodies and error shapes are produced in one place.
package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ErrorBody is the JSON shape of every API error. It matches RFC 6749 §5.2, so
// OAuth clients and API clients parse one format.
type ErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an ErrorBody with the given status.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	WriteJSON(w, status, ErrorBody{Error: code, Description: description})
}

// NoStore marks a response as uncacheable (RFC 6749 §5.1 requires it on every
// response that carries a token or credential).
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// BodyTooLarge reports whether err came from reading past the body limit.
func BodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
