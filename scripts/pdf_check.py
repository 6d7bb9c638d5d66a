#!/usr/bin/env python3
"""Checks ferrocr's searchable PDFs of a set of pages with independent readers (issue 43).

For every page: `pdftotext -raw` (the PDF's own text order) and `pdftotext` (poppler's layout
analysis) of the PDF against ferrocr's own text output (CER, whitespace squashed), `pdftotext -tsv` word boxes against the JSON word boxes (share with IoU >= 0.5),
`qpdf --check`, and `pdftoppm` at the page's DPI against the input image (share of pixels
within 2 gray levels). Called by scripts/pdf-check.sh, which makes the three outputs.

usage: pdf_check.py IMAGES_DIR PDF_DIR TEXT_DIR JSON_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tesseract_lines import lev  # noqa: E402  (the repo's plain edit distance)

_WS = re.compile(r"\s+")


def squash(t):
    return _WS.sub(" ", t).strip()


def read_pgm(path):
    """(width, height, samples) of a binary 8-bit PGM."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        m = re.compile(rb"\s*(#[^\n]*\n\s*)*(\S+)").match(data, pos)
        fields.append(m.group(2))
        pos = m.end()
    return int(fields[1]), int(fields[2]), data[pos + 1:]


def run(*args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def tsv_words(pdf):
    out = []
    for line in run("pdftotext", "-tsv", pdf, "-").decode().splitlines()[1:]:
        f = line.split("\t")
        if len(f) >= 12 and f[0] == "5":
            x, y, w, h = map(float, f[6:10])
            out.append((int(f[1]), (x, y, x + w, y + h)))
    return out


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / max(area(a) + area(b) - inter, 1e-9)


def page_size(pdf, n):
    info = run("pdfinfo", "-f", str(n), "-l", str(n), pdf).decode()
    line = next(l for l in info.splitlines() if l.startswith("Page") and "size:" in l)
    w, x, h = line.split(":", 1)[1].split()[:3]
    return float(w), float(h)


def main():
    images, pdfs, texts, jsons = sys.argv[1:5]
    rows = []
    for name in sorted(os.listdir(images)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            continue
        pdf = os.path.join(pdfs, stem + ".pdf")
        ours = squash(open(os.path.join(texts, stem + ".txt"), encoding="utf-8").read())
        raw = squash(run("pdftotext", "-raw", pdf, "-").decode())
        cer = lev(ours, raw) / max(len(ours), 1)
        layout = squash(run("pdftotext", pdf, "-").decode())
        cer_layout = lev(ours, layout) / max(len(ours), 1)
        qpdf_ok = subprocess.run(["qpdf", "--check", pdf], capture_output=True).returncode == 0
        doc = json.load(open(os.path.join(jsons, stem + ".json")))["document"]
        words = tsv_words(pdf)
        total = matched = 0
        for pi, page in enumerate(doc["pages"], 1):
            w_pt, h_pt = page_size(pdf, pi)
            sx, sy = w_pt / page["width"], h_pt / page["height"]
            for block in page["blocks"]:
                for line in block["lines"]:
                    for word in line["words"]:
                        b = word["bbox"]
                        r = (b["x0"] * sx, b["y0"] * sy, b["x1"] * sx, b["y1"] * sy)
                        total += 1
                        matched += any(p == pi and iou(r, q) >= 0.5 for p, q in words)
        page = doc["pages"][0]
        dpi = 72 * page["width"] / page_size(pdf, 1)[0]
        src = os.path.join(images, name)
        with tempfile.TemporaryDirectory() as tmp:
            if ext.lower() in (".jpg", ".jpeg"):
                # A JPEG must be embedded as its own bytes.
                unchanged = 1.0 if open(src, "rb").read() in open(pdf, "rb").read() else 0.0
            else:
                # Lossless: the embedded image, extracted, equals the input pixel for pixel.
                run("pdfimages", "-png", "-f", "1", "-l", "1", pdf, os.path.join(tmp, "e"))
                def gray(f, o):
                    out = os.path.join(tmp, o)
                    run("convert", f + "[0]", "-colorspace", "gray", "-depth", "8", out)
                    return read_pgm(out)

                a, b = gray(os.path.join(tmp, "e-000.png"), "e.pgm"), gray(src, "o.pgm")
                unchanged = (sum(x == y for x, y in zip(a[2], b[2])) / len(a[2])
                             if a[:2] == b[:2] else 0.0)
            # What poppler shows at the page's DPI has the input's size.
            base = os.path.join(tmp, "p")
            run("pdftoppm", "-r", f"{dpi:.4f}", "-gray", "-singlefile", pdf, base)
            shown = read_pgm(base + ".pgm")
            sized = abs(shown[0] - page["width"]) <= 1 and abs(shown[1] - page["height"]) <= 1
        rows.append((stem, cer, matched, total, qpdf_ok, unchanged, sized, cer_layout))
        print(f"{stem}\tCER raw {cer:.4f} default {cer_layout:.4f}\twords {matched}/{total}"
              f"\tqpdf {'ok' if qpdf_ok else 'FAIL'}\timage unchanged {unchanged:.4f}"
              f"\tshown size {'ok' if sized else 'DIFFERS'}", flush=True)
    n = len(rows)
    words = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"pages {n}; pdftotext -raw CER vs ferrocr text: max {max(r[1] for r in rows):.4f}, "
          f"mean {sum(r[1] for r in rows) / n:.4f}, pages over 0.01: {sum(r[1] > 0.01 for r in rows)}; "
          f"pdftotext (default layout) CER: mean {sum(r[7] for r in rows) / n:.4f}, "
          f"pages over 0.01: {sum(r[7] > 0.01 for r in rows)}; "
          f"word boxes with IoU >= 0.5: {words[0]}/{words[1]} = {words[0] / max(words[1], 1):.4f}; "
          f"qpdf --check failures: {sum(not r[4] for r in rows)}; "
          f"embedded image equal to the input: {sum(r[5] == 1.0 for r in rows)}/{n} "
          f"(min share of equal pixels {min(r[5] for r in rows):.4f}); "
          f"shown at the input's size: {sum(r[6] for r in rows)}/{n}")


if __name__ == "__main__":
    main()
