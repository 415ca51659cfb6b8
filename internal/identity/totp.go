package identity

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP per RFC 6238 with the parameters every authenticator app supports:
// HMAC-SHA-1, 6 digits, a 30-second time step (X) counted from the Unix epoch
// (T0 = 0), and a 160-bit seed (RFC 4226 §4: "The length of the shared secret
// MUST be at least 128 bits. This document RECOMMENDs a shared secret length
// of 160 bits.").
const (
	TOTPPeriod     = 30
	TOTPDigits     = 6
	totpSecretSize = 20
	// totpSkew is the accepted drift in time steps on either side. RFC 6238
	// §5.2: "We RECOMMEND that at most one time step is allowed as the
	// network delay."
	totpSkew = 1
)

// TOTPStep returns the RFC 6238 time counter T = floor((Unix time - T0) / X).
func TOTPStep(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return (u - TOTPPeriod + 1) / TOTPPeriod
	}
	return u / TOTPPeriod
}

// TOTPCode returns the 6-digit SHA-1 code of the base32 secret at time t.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totpCodeAt(secret, TOTPStep(t), otp.DigitsSix, otp.AlgorithmSHA1)
}

func totpCodeAt(secret string, step int64, digits otp.Digits, alg otp.Algorithm) (string, error) {
	if step < 0 {
		return "", fmt.Errorf("identity: negative TOTP step")
	}
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: digits, Algorithm: alg})
}

// MatchTOTP checks a code against the steps now-1, now and now+1 (RFC 6238
// §5.2) and returns the time step it belongs to, so the caller can record it
// and refuse a second use of the same code (§5.2: "the verifier MUST NOT
// accept the second attempt of the same OTP after the successful validation
// has been issued for the first OTP"). Every candidate is computed and
// compared in constant time, so timing does not reveal which step matched.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = normalizeOTP(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	found := int64(-1)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := cur + d
		want, err := totpCodeAt(secret, s, otp.DigitsSix, otp.AlgorithmSHA1)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found < 0 {
			found = s
		}
	}
	return found, found >= 0
}

// normalizeOTP drops the spaces and dashes people type ("123 456").
func normalizeOTP(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		return r
	}, strings.TrimSpace(code))
}

// looksLikeTOTP reports whether a second-factor input is a 6-digit code
// rather than a recovery code.
func looksLikeTOTP(code string) bool {
	c := normalizeOTP(code)
	if len(c) != TOTPDigits {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

// TOTPKey is a new, not yet confirmed authenticator key.
type TOTPKey struct {
	Secret string // base32 without padding, for typing in by hand
	URL    string // otpauth://totp/... for the QR code
}

// FormattedSecret groups the secret in blocks of four for reading aloud.
func (k TOTPKey) FormattedSecret() string {
	var b strings.Builder
	for i := 0; i < len(k.Secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k.Secret[i:min(i+4, len(k.Secret))])
	}
	return b.String()
}

func newTOTPKey(issuer, account string, random io.Reader) (TOTPKey, error) {
	return generateTOTPKey(issuer, account, nil, random)
}

func newTOTPKeyFromSecret(issuer, account, secret string) (TOTPKey, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("identity: stored TOTP seed: %w", err)
	}
	return generateTOTPKey(issuer, account, raw, nil)
}

func generateTOTPKey(issuer, account string, secret []byte, random io.Reader) (TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Secret:      secret,
		Issuer:      issuer,
		AccountName: account,
		Period:      TOTPPeriod,
		SecretSize:  totpSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        random,
	})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("identity: generating TOTP key: %w", err)
	}
	return TOTPKey{Secret: k.Secret(), URL: k.URL()}, nil
}

// QRCodePNG renders the key's otpauth URL as a PNG QR code of size×size pixels.
func (k TOTPKey) QRCodePNG(size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(k.URL)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
