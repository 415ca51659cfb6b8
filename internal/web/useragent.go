package web

import (
	"regexp"
	"strings"
)

// browserSummary turns a User-Agent header into what a person recognises on
// the sessions list ("Chrome 156 on Linux"); the full header stays available
// as a tooltip. Unknown agents are shown shortened, never guessed.
func browserSummary(ua string) string {
	if ua == "" {
		return ""
	}
	browser := ""
	for _, b := range uaBrowsers {
		if m := b.re.FindStringSubmatch(ua); m != nil {
			browser = b.name + " " + m[1]
			break
		}
	}
	os := ""
	for _, o := range uaSystems {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	}
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}

// Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
var uaBrowsers = []struct {
	name string
	re   *regexp.Regexp
}{
	{"Edge", regexp.MustCompile(`Edg/(\d+)`)},
	{"Opera", regexp.MustCompile(`OPR/(\d+)`)},
	{"Firefox", regexp.MustCompile(`Firefox/(\d+)`)},
	{"Chrome", regexp.MustCompile(`(?:Headless)?Chrome/(\d+)`)},
	{"Safari", regexp.MustCompile(`Version/(\d+)[.\d]* .*Safari/`)},
	{"curl", regexp.MustCompile(`^curl/(\S+)`)},
}

var uaSystems = []struct{ token, name string }{
	{"Android", "Android"},
	{"iPhone", "iOS"},
	{"iPad", "iPadOS"},
	{"Windows", "Windows"},
	{"Mac OS X", "macOS"},
	{"CrOS", "ChromeOS"},
	{"Linux", "Linux"},
}
