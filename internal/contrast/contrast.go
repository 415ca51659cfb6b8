// Package contrast computes WCAG 2.2 contrast ratios between sRGB colours.
// The configuration uses it to refuse an accent colour that would make
// links unreadable, the pages to pick readable text on the accent, and the
// browser test to check computed styles.
package contrast

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// RGB is an sRGB colour with 8-bit channels.
type RGB struct{ R, G, B uint8 }

// Hex is the colour as #rrggbb.
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

var hexRe = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ParseHex reads #rgb or #rrggbb.
func ParseHex(s string) (RGB, error) {
	if !hexRe.MatchString(s) {
		return RGB{}, fmt.Errorf("%q is not a #rrggbb or #rgb colour", s)
	}
	h := s[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	n, _ := strconv.ParseUint(h, 16, 32)
	return RGB{uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
}

var rgbRe = regexp.MustCompile(`^rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)\s*(?:[,/]\s*([\d.]+%?)\s*)?\)$`)

// ParseCSS reads a computed colour as browsers report it: rgb(r, g, b) or
// rgba(r, g, b, a). alpha is 1 for rgb().
func ParseCSS(s string) (c RGB, alpha float64, err error) {
	m := rgbRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return RGB{}, 0, fmt.Errorf("%q is not an rgb() colour", s)
	}
	ch := func(v string) uint8 { n, _ := strconv.Atoi(v); return uint8(min(n, 255)) }
	alpha = 1
	if m[4] != "" {
		if strings.HasSuffix(m[4], "%") {
			alpha, _ = strconv.ParseFloat(strings.TrimSuffix(m[4], "%"), 64)
			alpha /= 100
		} else {
			alpha, _ = strconv.ParseFloat(m[4], 64)
		}
	}
	return RGB{ch(m[1]), ch(m[2]), ch(m[3])}, alpha, nil
}

// Over composites c with the given alpha over the opaque background bg.
func Over(c RGB, alpha float64, bg RGB) RGB {
	mix := func(a, b uint8) uint8 { return uint8(math.Round(alpha*float64(a) + (1-alpha)*float64(b))) }
	return RGB{mix(c.R, bg.R), mix(c.G, bg.G), mix(c.B, bg.B)}
}

// Luminance is the relative luminance of WCAG 2.2 ("relative luminance":
// 0.2126 R + 0.7152 G + 0.0722 B of the linearised channels).
func Luminance(c RGB) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Ratio is the WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), from 1 to 21.
func Ratio(a, b RGB) float64 {
	la, lb := Luminance(a), Luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Black and White are the text colours ReadableOn chooses between.
var (
	Black = RGB{0, 0, 0}
	White = RGB{255, 255, 255}
)

// ReadableOn returns black or white, whichever contrasts more with bg.
func ReadableOn(bg RGB) RGB {
	if Ratio(bg, White) >= Ratio(bg, Black) {
		return White
	}
	return Black
}
