"""Writes the bad-input image corpus to tests/fixtures/bad-inputs/ (small files, committed).

Each file is one kind of input a user may drop; `expected.json` (written here too) states
what siglens must do with it: embed it (`ok`), or fail with an error containing `error`.
The tests (engine, CLI, app) read `expected.json`; they need no Python.

    /tmp/siglens-py/bin/python tools/make_bad_inputs.py
"""

import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "tests/fixtures/bad-inputs"


def photo(w=64, h=48, mode="RGB"):
    """A smooth colour gradient with a few shapes: compresses small, decodes everywhere."""
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(w + h - 2, 1))
    return im.convert(mode) if mode != "RGB" else im


def save(im, **kw):
    b = io.BytesIO()
    im.save(b, **kw)
    return b.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def declared_png(w, h):
    """A valid PNG header declaring w x h, with one tiny IDAT: a decompression bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    cases = {}

    def case(name, data, expect, why):
        (OUT / name).write_bytes(data)
        cases[name] = {**expect, "why": why}

    ok = {"ok": True}
    jpeg = save(photo(), format="JPEG", quality=90)
    png = save(photo(), format="PNG")

    case("zero-byte.jpg", b"", {"error": "empty file"}, "zero bytes")
    case("truncated.jpg", jpeg[: len(jpeg) // 2], {"error": "cannot decode"}, "JPEG cut in half")
    case("truncated.png", png[: len(png) // 2], {"error": "cannot decode"}, "PNG cut in half")
    case("text-file.jpg", b"this is a text file, not a photo\n", {"error": "cannot identify image file"}, "text renamed .jpg")
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic" + b"\0" * 64
    case("photo.heic", heic, {"error": "HEIC"}, "HEIC (an iPhone photo's container; header only)")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n'
    case("drawing.svg", svg, {"error": "SVG"}, "SVG is vector, not raster")
    frames = [photo(32, 32), photo(32, 32).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    case("animated.gif", save(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0), ok, "animated GIF: first frame")
    case("cmyk.jpg", save(photo(mode="CMYK"), format="JPEG", quality=90), ok, "CMYK JPEG")
    sixteen = Image.new("I;16", (40, 30))
    sixteen.putdata([(x * 1600 + y * 700) % 65536 for y in range(30) for x in range(40)])
    case("sixteen-bit.png", save(sixteen, format="PNG"), ok, "16-bit grayscale PNG")
    case("gray.png", save(photo(mode="L"), format="PNG"), ok, "8-bit grayscale")
    case("gray-alpha.png", save(photo(mode="LA"), format="PNG"), ok, "grayscale + alpha")
    case("palette.png", save(photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=16), format="PNG"), ok, "palette PNG")
    rgba = photo(mode="RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    case("transparent.png", save(rgba, format="PNG"), ok, "RGBA with transparent pixels")
    case("one-pixel.png", save(Image.new("RGB", (1, 1), (200, 30, 30)), format="PNG"), ok, "1x1")
    case("thin-1x10000.png", save(Image.new("RGB", (1, 10000), (30, 200, 30)), format="PNG"), ok, "1x10000, extreme aspect")
    case("bomb-30000x30000.png", declared_png(30000, 30000), {"error": "limit"}, "declares 30000x30000 in a few bytes")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    case("exif-rotated.jpg", save(photo(), format="JPEG", exif=exif), {"ok": True, "size": [48, 64]}, "EXIF orientation 6")
    case("progressive.jpg", save(photo(), format="JPEG", progressive=True, quality=85), ok, "progressive JPEG")
    case("lossy.webp", save(photo(), format="WEBP", quality=80), ok, "WebP lossy")
    case("lossless.webp", save(photo(), format="WEBP", lossless=True), ok, "WebP lossless")
    case("image.bmp", save(photo(), format="BMP"), ok, "BMP")
    case("image.tiff", save(photo(), format="TIFF"), ok, "TIFF")
    case("png-named.jpg", png, ok, "a PNG whose extension says JPEG: decoded by content")
    case("a \"quoted\" naïve 写真 🐱 name.png", png, ok, "spaces, quotes, unicode and emoji in the name")
    case("garbage.png", bytes((i * 37 + 11) % 256 for i in range(2048)), {"error": "cannot identify image file"}, "random bytes named .png")

    (OUT / "expected.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
