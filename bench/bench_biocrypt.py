"""Cost of encryption at rest per image: seal/unseal (AES-256-GCM) of a stored photo and signature.

    .venv/bin/python -m bench.bench_biocrypt [--rounds 2000]

The photo is tests/data/photos/rostro-ok-600x800.jpg normalised as a capture stores it (600×800 JPEG,
~80 KB); the signature is a drawn signature normalised to the stored PNG. Prints microseconds per
image (median of rounds), the sha256 the capture already computes (for scale), and what that adds
to a capture (one photo + one signature) and to a 2,000-card package (2,000 of each). Target
(issue 14): well under 1 ms per image.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

from PIL import Image, ImageDraw

from app import biocrypt, images
from app.config import ROOT

from .common import machine

PHOTO = ROOT / "tests" / "data" / "photos" / "rostro-ok-600x800.jpg"
TARGET_US = 1000.0


def signature_png() -> bytes:
    """A stored-ready signature (normalised like a capture's)."""
    img = Image.new("RGB", (900, 300), "white")
    ImageDraw.Draw(img).line([(60, 220), (200, 60), (330, 240), (480, 80), (640, 200), (820, 110)],
                             fill="black", width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return images.normalize_signature(buf.getvalue(), "firma").data


def per_call_us(fn, arg, rounds: int) -> float:
    """Median microseconds of fn(arg) over rounds calls."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        fn(arg)
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1000


def measure(name: str, data: bytes, rounds: int) -> dict:
    """seal, unseal and sha256 times of one image."""
    import hashlib

    blob = biocrypt.seal(data)
    assert biocrypt.unseal(blob) == data
    return {"name": name, "kb": len(data) / 1024, "seal": per_call_us(biocrypt.seal, data, rounds),
            "unseal": per_call_us(biocrypt.unseal, blob, rounds),
            "sha256": per_call_us(lambda d: hashlib.sha256(d).digest(), data, rounds)}


def main(argv: list[str] | None = None) -> None:
    """Measure and print the figures; exit 1 above the target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2000)
    args = p.parse_args(argv)
    photo = images.normalize_photo(PHOTO.read_bytes()).data
    rows = [measure("fotografía 600×800 JPEG", photo, args.rounds),
            measure("firma PNG", signature_png(), args.rounds)]
    print(machine())
    for r in rows:
        print(f"{r['name']} ({r['kb']:.1f} KB): cifrar {r['seal']:.0f} µs, descifrar {r['unseal']:.0f} µs "
              f"(sha256 que ya se calcula: {r['sha256']:.0f} µs)")
    capture = sum(r["seal"] for r in rows)
    package = 2000 * sum(r["unseal"] for r in rows) / 1e6
    print(f"por captura (foto + firma): +{capture:.0f} µs; por paquete de 2,000 credenciales: +{package:.2f} s "
          f"de descifrado (meta: < {TARGET_US:.0f} µs por imagen)")
    if max(max(r["seal"], r["unseal"]) for r in rows) >= TARGET_US:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
