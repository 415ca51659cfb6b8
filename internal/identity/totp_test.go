package identity

import (
	"crypto/rand"
	"encoding/base32"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// RFC 6238 Appendix B test vectors. The seeds are the ASCII strings
// "12345678901234567890" repeated to the hash's block of key length: 20 bytes
// for SHA-1, 32 for SHA-256, 64 for SHA-512; codes have 8 digits.
func TestTOTPRFC6238Vectors(t *testing.T) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	seed := func(n int) string { return enc.EncodeToString([]byte(strings.Repeat("1234567890", 7)[:n])) }
	vectors := []struct {
		unix   int64
		sha1   string
		sha256 string
		sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, v := range vectors {
		step := TOTPStep(time.Unix(v.unix, 0))
		for _, c := range []struct {
			alg  otp.Algorithm
			key  string
			want string
		}{
			{otp.AlgorithmSHA1, seed(20), v.sha1},
			{otp.AlgorithmSHA256, seed(32), v.sha256},
			{otp.AlgorithmSHA512, seed(64), v.sha512},
		} {
			got, err := totpCodeAt(c.key, step, otp.DigitsEight, c.alg)
			if err != nil || got != c.want {
				t.Errorf("T=%d %s: got %s (%v), want %s", v.unix, c.alg, got, err, c.want)
			}
		}
	}
}

// TestTOTPMatchesOathtool compares our 6-digit SHA-1 codes with an
// independent implementation, Debian's oathtool (OATH Toolkit).
func TestTOTPMatchesOathtool(t *testing.T) {
	bin, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool is not installed: CI must install it (apt-get install oathtool)")
		}
		t.Skip("SKIPPED: oathtool not installed (apt-get install oathtool); the independent TOTP check did not run")
	}
	for i := 0; i < 5; i++ {
		key, err := newTOTPKey("Gatehouse", "a@example.com", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, unix := range []int64{59, 1111111109, 1700000000 + int64(i)*7919, time.Now().Unix()} {
			out, err := exec.Command(bin, "--totp", "-b", key.Secret, "--now", "@"+strconv.FormatInt(unix, 10)).Output()
			if err != nil {
				t.Fatalf("oathtool: %v", err)
			}
			want := strings.TrimSpace(string(out))
			got, err := TOTPCode(key.Secret, time.Unix(unix, 0))
			if err != nil || got != want {
				t.Fatalf("secret %s at %d: ours %s (%v), oathtool %s", key.Secret, unix, got, err, want)
			}
			// and the other way round: MatchTOTP accepts oathtool's code
			if step, ok := MatchTOTP(key.Secret, want, time.Unix(unix, 0)); !ok || step != TOTPStep(time.Unix(unix, 0)) {
				t.Fatalf("MatchTOTP refused oathtool's %s at %d", want, unix)
			}
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	key, err := newTOTPKey("Gatehouse", "a@example.com", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 10, 0, time.UTC)
	cur := TOTPStep(now)
	for _, c := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		code, _ := totpCodeAt(key.Secret, cur+c.offset, otp.DigitsSix, otp.AlgorithmSHA1)
		step, ok := MatchTOTP(key.Secret, code, now)
		if ok != c.ok || (ok && step != cur+c.offset) {
			t.Errorf("offset %d: ok=%v step=%d, want ok=%v step=%d", c.offset, ok, step, c.ok, cur+c.offset)
		}
	}
	code, _ := TOTPCode(key.Secret, now)
	if _, ok := MatchTOTP(key.Secret, code[:3]+" "+code[3:], now); !ok {
		t.Error("code with a space refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := MatchTOTP(key.Secret, bad, now); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTOTPKeyQRCode(t *testing.T) {
	key, err := newTOTPKey("Gatehouse", "a@example.com", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(key.Secret) != 32 { // 160 bits in base32
		t.Errorf("secret %q is not 160 bits", key.Secret)
	}
	if !strings.HasPrefix(key.URL, "otpauth://totp/Gatehouse:a@example.com?") || !strings.Contains(key.URL, "secret="+key.Secret) {
		t.Errorf("unexpected otpauth URL %q", key.URL)
	}
	png, err := key.QRCodePNG(200)
	if err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	again, err := newTOTPKeyFromSecret("Gatehouse", "a@example.com", key.Secret)
	if err != nil || again.Secret != key.Secret {
		t.Fatalf("rebuilding the key: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := newRecoveryCodes(rand.Reader, RecoveryCodeCount)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q is not xxxxx-xxxxx", c)
		}
		n := normalizeRecoveryCode(c)
		if n == "" || seen[n] {
			t.Errorf("code %q does not normalise or repeats", c)
		}
		seen[n] = true
		for _, variant := range []string{strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), " " + c[:5] + " " + c[6:] + " "} {
			if normalizeRecoveryCode(variant) != n {
				t.Errorf("%q and %q differ after normalising", variant, c)
			}
		}
	}
	if normalizeRecoveryCode("0O1Il-abcde") != normalizeRecoveryCode("00111-abcde") {
		t.Error("look-alike letters not folded")
	}
	for _, bad := range []string{"", "abcde", "abcde-fghjk-m", "abcde-fghj!"} {
		if normalizeRecoveryCode(bad) != "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
