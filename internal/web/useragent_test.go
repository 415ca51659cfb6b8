package web

import (
	"strings"
	"testing"
)

func TestBrowserSummary(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":                           "Chrome 156 on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0":                   "Edge 120 on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15":                      "Safari 17 on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": "Safari 17 on iOS",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0":                                                          "Firefox 121 on Linux",
		"curl/8.5.0": "curl 8.5.0",
		"":           "",
	} {
		if got := browserSummary(ua); got != want {
			t.Errorf("browserSummary(%q) = %q, want %q", ua, got, want)
		}
	}
	long := strings.Repeat("x", 100)
	if got := browserSummary(long); len([]rune(got)) != 41 {
		t.Errorf("unknown agent not shortened: %q", got)
	}
}
