package identity

import (
	"fmt"
	"io"
	"strings"
)

// Recovery codes: RecoveryCodeCount single-use codes of 10 characters from
// Crockford's base32 alphabet (50 random bits each), shown once as
// "xxxxx-xxxxx" and stored only as keyed hashes of their normalised form.
const (
	RecoveryCodeCount = 10
	recoveryCodeLen   = 10
	crockford         = "0123456789abcdefghjkmnpqrstvwxyz"
)

// newRecoveryCodes draws n codes from random (rejection-free: 32 divides 256).
func newRecoveryCodes(random io.Reader, n int) ([]string, error) {
	buf := make([]byte, n*recoveryCodeLen)
	if _, err := io.ReadFull(random, buf); err != nil {
		return nil, fmt.Errorf("identity: reading randomness: %w", err)
	}
	codes := make([]string, n)
	for i := range codes {
		var b strings.Builder
		for j := 0; j < recoveryCodeLen; j++ {
			if j == recoveryCodeLen/2 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[buf[i*recoveryCodeLen+j]%32])
		}
		codes[i] = b.String()
	}
	return codes, nil
}

// normalizeRecoveryCode lower-cases, drops spaces and dashes and maps the
// letters Crockford's alphabet leaves out to the digits they look like, so
// "ABCDE-FGHJK", "abcde fghjk" and "abcdefghjk" are the same code. It returns
// "" for anything that cannot be a recovery code.
func normalizeRecoveryCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		if !strings.ContainsRune(crockford, r) {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != recoveryCodeLen {
		return ""
	}
	return b.String()
}
