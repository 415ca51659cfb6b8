package identity

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Password rules, after NIST SP 800-63B (rev. 3 §5.1.1.2, rev. 4 §3.1.1.2):
//
//   - "Verifiers SHALL require subscriber-chosen memorized secrets to be at
//     least 8 characters in length" and "SHOULD permit ... at least 64
//     characters": we allow up to MaxPasswordRunes (256), which also bounds
//     the work of normalising and hashing.
//   - "All printing ASCII characters as well as the space character SHOULD be
//     acceptable ... Unicode characters SHOULD be accepted as well": any
//     Unicode is accepted except control characters.
//   - "the verifier SHOULD apply the Normalization Process for Stabilized
//     Strings using either the NFKC or NFKD normalization": passwords are
//     NFKC-normalised before they are counted, checked and hashed, on every
//     path (set and verify), so the same password typed on another keyboard
//     still matches.
//   - "Verifiers SHOULD NOT impose other composition rules": there are none.
//   - "compare the prospective secrets against a list that contains values
//     known to be commonly-used, expected, or compromised": an embedded list
//     of breached passwords (data/README.md), repetitive or sequential
//     characters, and context-specific words (the service name, the email).
const (
	MinPasswordRunes = 8
	MaxPasswordRunes = 256
	// maxPasswordBytes bounds what is even looked at (4 bytes per rune).
	maxPasswordBytes = 4 * MaxPasswordRunes
)

// PolicyError explains why a new password is refused. Message is safe to show.
type PolicyError struct {
	Reason  string // "too_short", "too_long", "invalid", "common", "context"
	Message string
}

func (e *PolicyError) Error() string { return "identity: password refused: " + e.Message }

// NormalizePassword applies NFKC (NIST SP 800-63B). It is applied before
// both hashing and verifying.
func NormalizePassword(pw string) string {
	if len(pw) > maxPasswordBytes*2 {
		// Far beyond any allowed password: don't spend time normalising it.
		return pw
	}
	return norm.NFKC.String(pw)
}

//go:embed data/common-passwords.txt.gz
var commonPasswordsGz []byte

// Blocklist is a sorted list of lower-cased common passwords searched by
// binary search (about 1.3 MB in memory for the shipped list).
type Blocklist struct {
	data    string
	offsets []uint32 // start of each line in data
}

// LoadBlocklist decompresses the embedded list of common passwords.
func LoadBlocklist() (*Blocklist, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return nil, fmt.Errorf("identity: common password list: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("identity: common password list: %w", err)
	}
	return NewBlocklist(string(raw)), nil
}

// NewBlocklist builds a blocklist from newline-separated passwords.
func NewBlocklist(list string) *Blocklist {
	lines := strings.Split(list, "\n")
	cleaned := make([]string, 0, len(lines))
	for _, l := range lines {
		if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
			cleaned = append(cleaned, l)
		}
	}
	sort.Strings(cleaned)
	b := &Blocklist{offsets: make([]uint32, 0, len(cleaned))}
	var sb strings.Builder
	prev := ""
	for _, l := range cleaned {
		if l == prev {
			continue
		}
		prev = l
		b.offsets = append(b.offsets, uint32(sb.Len()))
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	b.data = sb.String()
	return b
}

// Len is the number of entries.
func (b *Blocklist) Len() int { return len(b.offsets) }

func (b *Blocklist) at(i int) string {
	s := b.data[b.offsets[i]:]
	return s[:strings.IndexByte(s, '\n')]
}

// Contains reports whether the lower-cased password is on the list.
func (b *Blocklist) Contains(pw string) bool {
	pw = strings.ToLower(pw)
	i := sort.Search(len(b.offsets), func(i int) bool { return b.at(i) >= pw })
	return i < len(b.offsets) && b.at(i) == pw
}

// CheckPassword applies the policy to a new password (already normalised
// with NormalizePassword). contextWords are words an attacker would try first
// for this account: the email address, the user's name, the service name.
func (b *Blocklist) CheckPassword(pw string, contextWords ...string) error {
	if !utf8.ValidString(pw) {
		return &PolicyError{"invalid", "The password is not valid text."}
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordRunes {
		return &PolicyError{"too_short", fmt.Sprintf("Use at least %d characters.", MinPasswordRunes)}
	}
	if n > MaxPasswordRunes {
		return &PolicyError{"too_long", fmt.Sprintf("Use at most %d characters.", MaxPasswordRunes)}
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return &PolicyError{"invalid", "The password contains a control character."}
		}
	}
	lower := strings.ToLower(pw)
	if b.Contains(lower) || b.Contains(trimDecoration(lower)) {
		return &PolicyError{"common", "This password is too common: it appears in lists of leaked passwords. Choose another; a few random words work well."}
	}
	if repetitiveOrSequential(lower) {
		return &PolicyError{"common", "This password is a repeated or sequential pattern. Choose another; a few random words work well."}
	}
	for _, w := range contextWords {
		if contextWord(lower, w) {
			return &PolicyError{"context", "This password is too close to your email address, your name or the name of this service."}
		}
	}
	return nil
}

// trimDecoration removes up to 6 trailing digits and punctuation, so
// "sunshine!" and "password2024" are caught by their common stem. The stem
// must itself be long enough to be on the list (8+ characters).
func trimDecoration(s string) string {
	t := strings.TrimRightFunc(s, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) })
	if len(s)-len(t) > 6 {
		return s
	}
	return t
}

// repetitiveOrSequential catches "aaaaaaaa", "abababab", "12345678",
// "87654321", "abcdefgh" and the like: at most two distinct characters, or a
// run whose code points step by the same ±1.
func repetitiveOrSequential(s string) bool {
	rs := []rune(s)
	distinct := map[rune]bool{}
	for _, r := range rs {
		distinct[r] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	step := rs[1] - rs[0]
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if rs[i]-rs[i-1] != step {
			return false
		}
	}
	return true
}

// contextWord reports whether pw is essentially the context word w (or, for
// an email address, its local part): once w is removed, fewer than 4
// characters are left.
func contextWord(pw, w string) bool {
	w = strings.ToLower(strings.TrimSpace(w))
	candidates := []string{w}
	if local, _, ok := strings.Cut(w, "@"); ok {
		candidates = append(candidates, local)
	}
	for _, c := range candidates {
		if utf8.RuneCountInString(c) < 4 || !strings.Contains(pw, c) {
			continue
		}
		if rest := strings.ReplaceAll(pw, c, ""); utf8.RuneCountInString(rest) < 4 || trimDecoration(rest) == "" {
			return true
		}
	}
	return false
}
