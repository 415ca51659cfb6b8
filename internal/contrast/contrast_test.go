package contrast

import (
	"math"
	"testing"
)

func TestRatioKnownValues(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#fff", "#fff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey passing AA on white
		{"#d5dae1", "#f6f7f9", 1.31}, // the old input border on the page background
	} {
		a, err := ParseHex(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ParseHex(tc.b)
		if got := Ratio(a, b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("Ratio(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", "red", "#12345", "#gggggg", "123456", "#1234567"} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q) accepted", bad)
		}
	}
	c, a, err := ParseCSS("rgba(10, 20, 30, 0.5)")
	if err != nil || c != (RGB{10, 20, 30}) || a != 0.5 {
		t.Fatalf("ParseCSS = %v %v %v", c, a, err)
	}
	c, a, err = ParseCSS("rgb(1 2 3 / 50%)")
	if err != nil || c != (RGB{1, 2, 3}) || a != 0.5 {
		t.Fatalf("ParseCSS space syntax = %v %v %v", c, a, err)
	}
	if got := Over(RGB{0, 0, 0}, 0.5, White); got != (RGB{128, 128, 128}) {
		t.Fatalf("Over = %v", got)
	}
	if ReadableOn(RGB{0x1a, 0x56, 0xdb}) != White || ReadableOn(RGB{0xff, 0xee, 0x00}) != Black {
		t.Fatal("ReadableOn picked the less readable colour")
	}
}
