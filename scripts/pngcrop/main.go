// Command pngcrop cuts the last HEIGHT pixels of content (trailing white rows are
// dropped first) out of a PNG: scripts/html-browser-check.sh uses it to show the rows
// table at the end of a full-page screenshot, as headless chromium cannot screenshot a
// scrolled view. Usage: go run ./scripts/pngcrop IN.png OUT.png HEIGHT
package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pngcrop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: pngcrop IN.png OUT.png HEIGHT")
	}
	h, err := strconv.Atoi(args[2])
	if err != nil || h <= 0 {
		return fmt.Errorf("bad height %q", args[2])
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	b := img.Bounds()
	last := b.Min.Y
	for y := b.Max.Y - 1; y >= b.Min.Y && last == b.Min.Y; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				last = y
				break
			}
		}
	}
	bottom := min(last+16, b.Max.Y)
	top := max(bottom-h, b.Min.Y)
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return fmt.Errorf("cannot crop a %T", img)
	}
	out, err := os.Create(args[1])
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(out, sub.SubImage(image.Rect(b.Min.X, top, b.Max.X, bottom))); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
