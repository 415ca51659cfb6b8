package apps

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/draw"
	_ "image/gif" // decoders for the accepted logo formats
	_ "image/jpeg"
	"image/png"

	"github.com/gatehouse/gatehouse/internal/store"
)

// maxLogoPixels bounds the decoded size of an upload: a small file can
// declare an enormous image (a decompression bomb), so the header is read
// first and anything larger is refused before decoding.
const maxLogoPixels = 4096 * 4096

// SetLogo stores a logo: PNG, JPEG or GIF up to MaxLogoBytes, decoded,
// scaled down to fit MaxLogoSide × MaxLogoSide, re-encoded as PNG. The
// uploaded bytes are never served as they are.
func (s *Service) SetLogo(ctx context.Context, a Actor, id string, data []byte) error {
	out, err := normalizeLogo(data)
	if err != nil {
		return err
	}
	_, err = s.change(ctx, a, id, EventLogoSet, func(tx store.Store, c *store.Client, _ role) (string, error) {
		return "", tx.SetClientLogo(ctx, c.ID, out, s.now())
	})
	return err
}

func badLogo(msg string) error {
	return &InvalidError{Fields: map[string][]string{"logo": {msg}}}
}

func normalizeLogo(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, badLogo("the file is empty")
	}
	if len(data) > MaxLogoBytes {
		return nil, badLogo("the file is larger than 1 MiB")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, badLogo("not a PNG, JPEG or GIF image")
	}
	if format != "png" && format != "jpeg" && format != "gif" {
		return nil, badLogo("not a PNG, JPEG or GIF image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxLogoPixels {
		return nil, badLogo("the image is too large (at most 4096×4096 pixels)")
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, badLogo("the image could not be decoded")
	}
	img = fit(img, MaxLogoSide)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fit scales img down (nearest neighbour) so neither side exceeds max,
// keeping the aspect ratio; smaller images are copied as they are.
func fit(img image.Image, max int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	nw, nh := w, h
	if w > max || h > max {
		if w >= h {
			nw, nh = max, (h*max+w/2)/w
		} else {
			nw, nh = (w*max+h/2)/h, max
		}
	}
	nw, nh = maxInt(nw, 1), maxInt(nh, 1)
	dst := image.NewNRGBA(image.Rect(0, 0, nw, nh))
	if nw == w && nh == h {
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		return dst
	}
	for y := 0; y < nh; y++ {
		sy := b.Min.Y + y*h/nh
		for x := 0; x < nw; x++ {
			dst.Set(x, y, img.At(b.Min.X+x*w/nw, sy))
		}
	}
	return dst
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Logo returns the app's stored logo and its content type ("image/png");
// ErrNotFound when it has none. Logos are public: the consent page shows
// them to any user an app asks.
func (s *Service) Logo(ctx context.Context, id string) ([]byte, string, error) {
	b, err := s.cfg.Store.ClientLogo(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return b, "image/png", nil
}
