package web

import (
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/contrast"
)

// themeCSS is the stylesheet carrying the operator's accent colour. The
// Content-Security-Policy allows styles from 'self' only (no inline style
// attributes or <style> elements), so the colour reaches the pages as a
// small generated file that every layout links after style.css. The accent
// applies to light pages; dark pages keep their own light-on-dark blue,
// because a brand colour chosen to read on white rarely reads on near-black.
func themeCSS(accent string) ([]byte, error) {
	if accent == "" {
		return []byte("/* no accent_color set: style.css's colours apply */\n"), nil
	}
	c, err := contrast.ParseHex(accent)
	if err != nil {
		return nil, fmt.Errorf("web: accent colour: %w", err)
	}
	// Button text on the accent: black or white, whichever reads better.
	fg := contrast.ReadableOn(c)
	return fmt.Appendf(nil, "/* accent_color */\n@media (prefers-color-scheme: light) {\n  :root { --accent: %s; --accent-fg: %s; }\n}\n", c.Hex(), fg.Hex()), nil
}

func (h *Handler) serveTheme(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	// Short: a changed accent_color should show within minutes of a restart.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.theme)
}
