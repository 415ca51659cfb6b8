// Package webhook signs and verifies webhooks the Standard Webhooks way
// (https://www.standardwebhooks.com), the format Gatehouse sends its events
// in. A receiver checks a request with Verify, or wraps its handler in
// Middleware:
//
//	mux.Handle("POST /hooks/gatehouse", webhook.Middleware(os.Getenv("WEBHOOK_SECRET"))(handler))
//
// Every request carries three headers:
//
//	webhook-id:        msg_…   (the same on every retry of one event: de-duplicate on it)
//	webhook-timestamp: 1614265330   (Unix seconds when this attempt was sent)
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// where key is the secret "whsec_<base64>" decoded. While a secret is being
// rotated the header holds one signature per secret, separated by spaces; a
// request is genuine when any of them verifies.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret in its textual form.
const SecretPrefix = "whsec_"

// Tolerance is how far a webhook-timestamp may be from the receiver's clock,
// either way. The specification: "compare this timestamp against your
// system timestamp and make sure it's within your tolerance in order to
// prevent timestamp attacks"; five minutes is what its libraries use.
const Tolerance = 5 * time.Minute

// Verification errors. Verify wraps them; test with errors.Is.
var (
	ErrInvalidSecret       = errors.New("webhook: invalid secret")
	ErrMissingHeaders      = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrInvalidTimestamp    = errors.New("webhook: timestamp outside the tolerance")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// DecodeSecret turns "whsec_<base64>" (or the bare base64) into key bytes.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// Sign returns the signature "v1,<base64>" of one message under secret.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + sign(key, id, strconv.FormatInt(timestamp.Unix(), 10), body), nil
}

func sign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SetHeaders sets the three headers of a message on h, signed with every
// secret in secrets (the current one, and the previous one during a
// rotation's grace period).
func SetHeaders(h http.Header, secrets []string, id string, timestamp time.Time, body []byte) error {
	if len(secrets) == 0 {
		return ErrInvalidSecret
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, timestamp, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return nil
}

// Verify checks that body with header was signed with secret less than
// Tolerance ago (or ahead). The comparison runs in constant time.
func Verify(secret string, header http.Header, body []byte) error {
	v, err := NewVerifier(secret)
	if err != nil {
		return err
	}
	return v.Verify(header, body)
}

// Verifier verifies with one secret; Now and Tolerance may be set for tests
// or a different policy.
type Verifier struct {
	key       []byte
	Now       func() time.Time
	Tolerance time.Duration
}

// NewVerifier decodes secret once for many verifications.
func NewVerifier(secret string) (*Verifier, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Verifier{key: key, Now: time.Now, Tolerance: Tolerance}, nil
}

// Verify is the package's Verify with v's secret, clock and tolerance.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	id, ts, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrInvalidTimestamp, ts)
	}
	now := v.Now()
	sent := time.Unix(sec, 0)
	if sent.Before(now.Add(-v.Tolerance)) || sent.After(now.Add(v.Tolerance)) {
		return fmt.Errorf("%w: sent %s, now %s", ErrInvalidTimestamp, sent.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	want := []byte(sign(v.key, id, ts, body))
	// The header holds "version,signature" pairs separated by spaces;
	// versions other than v1 (such as v1a, asymmetric) are not ours to check.
	for _, pair := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(pair, ",")
		if !ok || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// MaxBodyBytes bounds the body Middleware reads to verify.
const MaxBodyBytes = 1 << 20

// Middleware verifies each request's signature with secret before calling
// next, which then reads the same body; a request that fails is answered
// 401 (413 when the body exceeds MaxBodyBytes) and never reaches next. It
// panics when secret is not a valid secret: that is a configuration
// mistake to find at startup, not per request.
func Middleware(secret string) func(http.Handler) http.Handler {
	v, err := NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				http.Error(w, "cannot read body", http.StatusBadRequest)
				return
			}
			if len(body) > MaxBodyBytes {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			if err := v.Verify(r.Header, body); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		})
	}
}
