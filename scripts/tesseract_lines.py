#!/usr/bin/env python3
"""Tesseract on the ground-truth line crops of a lines.jsonl set, scored like `ferrocr eval-lines`.

Each crop is the box with a 4 px margin, read by `tesseract crop.png - --psm 7` (as in
../shared/eval/README.md). CER = total edits / total ground-truth characters after NFKC and
whitespace collapsing; "ci" casefolds. Needs python3 + tesseract + ImageMagick's `convert`.
"""
import argparse, json, os, re, subprocess, sys, tempfile, unicodedata
from concurrent.futures import ThreadPoolExecutor

_WS = re.compile(r"\s+")

def norm(t, cf):
    t = _WS.sub(" ", unicodedata.normalize("NFKC", t)).strip()
    return t.casefold() if cf else t

def lev(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--json")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(os.path.join(a.data, "lines.jsonl")) if l.strip()]
    tmp = tempfile.mkdtemp()

    def read(i_row):
        i, r = i_row
        x0, y0, x1, y1 = r["bbox"]
        m = 4
        crop = os.path.join(tmp, f"{i}.png")
        subprocess.run(["convert", os.path.join(a.data, r["image"]), "-crop",
                        f"{x1 - x0 + 2 * m}x{y1 - y0 + 2 * m}+{max(0, x0 - m)}+{max(0, y0 - m)}",
                        "+repage", crop], check=True)
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        p = subprocess.run(["tesseract", crop, "-", "--psm", "7"], capture_output=True, text=True, env=env)
        return p.stdout

    with ThreadPoolExecutor(a.jobs) as ex:
        hyps = list(ex.map(read, enumerate(rows)))
    tot = {}
    for cf in (False, True):
        ce = cc = we = wc = 0
        groups = {}
        for r, h in zip(rows, hyps):
            g, hh = norm(r["text"], cf), norm(h, cf)
            e = lev(g, hh)
            w = lev(g.split(), hh.split())
            ce += e; cc += len(g); we += w; wc += len(g.split())
            k = r["image"].split("_")[0]
            s = groups.setdefault(k, [0, 0, 0])
            s[0] += e; s[1] += len(g); s[2] += 1
        sfx = "_ci" if cf else ""
        tot["cer" + sfx] = ce / max(cc, 1)
        tot["wer" + sfx] = we / max(wc, 1)
        for k, (e, c, n) in groups.items():
            tot.setdefault("groups", {}).setdefault(k, {"lines": n})["cer" + sfx] = e / max(c, 1)
    tot["lines"] = len(rows)
    print(f"tesseract --psm 7 lines {len(rows)}  CER {tot['cer']:.4f}  CER-ci {tot['cer_ci']:.4f}  "
          f"WER {tot['wer']:.4f}  WER-ci {tot['wer_ci']:.4f}")
    for k, v in sorted(tot["groups"].items()):
        print(f"  {k:<8} {v['lines']:>5} lines  CER {v['cer']:.4f}  CER-ci {v['cer_ci']:.4f}")
    if a.json:
        json.dump(tot, open(a.json, "w"), indent=2)

if __name__ == "__main__":
    sys.exit(main())
