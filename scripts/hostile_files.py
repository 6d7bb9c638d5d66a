#!/usr/bin/env python3
"""Expanding and hostile document files, and a driver that sends them to a running server.

  hostile_files.py make DIR          write the files (they stay out of git)
  hostile_files.py send URL DIR PID  send each file alone, then all of them 4 times at once,
                                     to URL/v1/ocr; print status, time, the server's peak RSS
                                     (sampled from /proc/PID every 50 ms) and how long its CPU
                                     took to fall idle after the last answer, as Markdown rows

Files (issue 44's expanding cases and a few more):
  tiff_bomb.tif      200 pages of 10000 x 10000 1-bit pixels sharing one 4-byte strip (~20 KB)
  pdf_huge_pages.pdf 200 pages of 2400 x 2400 pt, each a filled square (~30 KB)
  jpeg_no_data.jpg   a JPEG header claiming 10000 x 10000 pixels and no scan data
  pdf_dct_65000.pdf  a PDF drawing a JPEG image whose frame header claims 65000 x 65000
  pdf_fanout.pdf     a form XObject tree drawing a square 10^8 times (10 x 10 x ... 8 levels)
  tiff_many_pages.tif 100 pages of 2000 x 2000 8-bit gray (400 Mpx, within the document budget),
                     all one small deflated strip
"""
import concurrent.futures
import os
import struct
import sys
import threading
import time
import urllib.request
import zlib


def pdf(objects):
    """A PDF from object bodies (bytes), object 1 the catalog; correct xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(dict_body, data):
    return b"<< %s /Length %d >>\nstream\n" % (dict_body, len(data)) + data + b"\nendstream"


def tiff(pages, width, height, bits, strip, compression=1):
    """Little-endian TIFF: `pages` IFDs of width x height sharing one strip."""
    out = bytearray(b"II*\x00")
    out += struct.pack("<I", 8 + len(strip) + (len(strip) & 1))
    out += strip + (b"\x00" if len(strip) & 1 else b"")
    strip_at = 8
    entries = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, compression),
               (262, 3, 1), (273, 4, strip_at), (277, 3, 1), (278, 4, height),
               (279, 4, len(strip))]
    for page in range(pages):
        here = len(out)
        nxt = here + 2 + 12 * len(entries) + 4
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", nxt if page + 1 < pages else 0)
    return bytes(out)


def make(d):
    os.makedirs(d, exist_ok=True)
    files = {}
    files["tiff_bomb.tif"] = tiff(200, 10000, 10000, 1, b"\x00\x00\x00\x00")
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(200))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Count 200 /Kids [%s] >>" % kids]
    for i in range(200):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 2400 2400] /Contents %d 0 R >>" % (4 + 2 * i))
        objs.append(stream(b"", b"0 0 0 rg 100 100 2200 2200 re f"))
    files["pdf_huge_pages.pdf"] = pdf(objs)
    sof = b"\xff\xc0\x00\x0b\x08" + struct.pack(">HH", 10000, 10000) + b"\x01\x01\x11\x00"
    files["jpeg_no_data.jpg"] = b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    big = b"\xff\xd8\xff\xc0\x00\x0b\x08" + struct.pack(">HH", 65000, 65000) + b"\x01\x01\x11\x00\xff\xd9"
    files["pdf_dct_65000.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /XObject << /Im 5 0 R >> >> /Contents 4 0 R >>",
        stream(b"", b"q 100 0 0 100 50 50 cm /Im Do Q"),
        stream(b"/Type /XObject /Subtype /Image /Width 10 /Height 10 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", big),
    ])
    # Fan-out: object 4+k is form k, drawing form k+1 ten times; the last draws a square.
    levels = 8
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /F 4 0 R >> >> /Contents %d 0 R >>" % (4 + levels + 1)]
    for k in range(levels + 1):
        if k < levels:
            body = b" ".join(b"q 1 0 0 1 0.1 0 cm /F Do Q" for _ in range(10))
            res = b"/Resources << /XObject << /F %d 0 R >> >>" % (4 + k + 1)
        else:
            body, res = b"0 0 0 rg 0 0 1 1 re f", b""
        objs.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] " + res, body))
    objs.append(stream(b"", b"/F Do"))
    files["pdf_fanout.pdf"] = pdf(objs)
    files["tiff_many_pages.tif"] = tiff(100, 2000, 2000, 8, zlib.compress(b"\xff" * 4_000_000, 9), compression=8)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return sorted(files)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Sampler:
    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0.0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def post(url, path):
    with open(path, "rb") as f:
        body = f.read()
    req = urllib.request.Request(url + "/v1/ocr", data=body, method="POST",
                                 headers={"content-type": "application/octet-stream"})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=180) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:  # the server died or cut the connection
        status = f"error: {type(e).__name__}"
    return status, time.time() - t


def idle_after(pid, limit=30.0):
    """Seconds until the server's CPU use stays under 5 % of a core for 0.5 s."""
    t0 = time.time()
    while time.time() - t0 < limit:
        a = cpu_ticks(pid)
        time.sleep(0.5)
        if cpu_ticks(pid) - a <= 0.05 * 0.5 * os.sysconf("SC_CLK_TCK"):
            return time.time() - t0
    return float("inf")


def send(url, d, pid):
    names = sorted(n for n in os.listdir(d))
    print("| case | answers | slowest s | peak RSS MB | CPU idle after s | alive |")
    print("|---|---|---|---|---|---|")
    cases = [(n, [n]) for n in names] + [("all, 4 times at once", names * 4)]
    for label, batch in cases:
        s = Sampler(pid)
        with concurrent.futures.ThreadPoolExecutor(len(batch)) as ex:
            results = list(ex.map(lambda n: post(url, os.path.join(d, n)), batch))
        idle = idle_after(pid)
        s.stop = True
        s.thread.join()
        statuses = {}
        for st, _ in results:
            statuses[st] = statuses.get(st, 0) + 1
        alive = os.path.exists(f"/proc/{pid}")
        answers = ", ".join(f"{k} x{v}" if v > 1 else str(k) for k, v in sorted(statuses.items(), key=str))
        print(f"| {label} | {answers} | {max(t for _, t in results):.2f} | {s.peak:.0f} | {idle:.1f} | {'yes' if alive else 'NO'} |")
        sys.stdout.flush()
        if not alive:
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        print("\n".join(make(sys.argv[2])))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        sys.exit(send(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        print(__doc__)
        sys.exit(2)
