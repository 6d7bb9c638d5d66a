#!/usr/bin/env bash
# Robustness of page analysis: every page of the given sets turned by 90°, 180° and 270°
# (clockwise), scaled to 50 % and 200 %, and placed at its own size in the middle of a white
# canvas 2.5 times as wide and high; per variant CER-ci, BoW-F1-ci (../shared/eval/ocr_eval.py),
# orientation accuracy (the page's `rotation` in ferrocr's JSON against the turn that undoes the
# variant's) and pages/s. Generated images and outputs live in robustness-out/ (not in git).
# Usage: scripts/robustness.sh [DATA_DIR ...]   (default: the dev and tune sets)
#        VARIANTS="orig rot180" scripts/robustness.sh ...   (a subset of the variants)
set -euo pipefail
cd "$(dirname "$0")/.."
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(../shared/eval/data/dev ../shared/eval/data/tune)
variants=(${VARIANTS:-orig rot90 rot180 rot270 scale50 scale200 canvas})
command -v magick >/dev/null || command -v /usr/bin/convert >/dev/null || scripts/setup.sh --full
im=(/usr/bin/convert)
command -v magick >/dev/null && im=(magick)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
cargo build --release -q
bin="$CARGO_TARGET_DIR/release/ferrocr"
eval_py=../shared/eval/ocr_eval.py
out=robustness-out
mkdir -p "$out/magick"
# Debian's ImageMagick policy caps images at 128 MP and 1 GiB of disk cache: a 600 DPI receipt
# scaled to 200 % or placed on a 2.5x canvas needs more.
cat > "$out/magick/policy.xml" <<'XML'
<policymap>
  <policy domain="resource" name="memory" value="4GiB"/>
  <policy domain="resource" name="map" value="8GiB"/>
  <policy domain="resource" name="width" value="64KP"/>
  <policy domain="resource" name="height" value="64KP"/>
  <policy domain="resource" name="area" value="2GP"/>
  <policy domain="resource" name="disk" value="16GiB"/>
</policymap>
XML
export MAGICK_CONFIGURE_PATH="$PWD/$out/magick"
summary="$out/summary.tsv"
printf 'set\tvariant\tpages\tCER-ci\tBoW-F1-ci\torientation-right\tpages/s\n' > "$summary"
for data in "${sets[@]}"; do
  set_name=$(basename "$data")
  for v in "${variants[@]}"; do
    dir="$out/$set_name/$v"
    mkdir -p "$dir/img" "$dir/json"
    case "$v" in
      rot90) expect=270 ;; rot180) expect=180 ;; rot270) expect=90 ;; *) expect=0 ;;
    esac
    for img in "$data"/*.png "$data"/*.jpg "$data"/*.tif; do
      [ -f "$img" ] || continue
      name=$(basename "${img%.*}")
      dst="$dir/img/$name.png"
      cp -f "${img%.*}.gt.txt" "$dir/img/$name.gt.txt"
      [ -f "$dst" ] && continue
      case "$v" in
        orig) "${im[@]}" "$img" "$dst" ;;
        rot*) "${im[@]}" "$img" -rotate "${v#rot}" "$dst" ;;
        scale*) "${im[@]}" "$img" -filter Triangle -resize "${v#scale}%" "$dst" ;;
        canvas) "${im[@]}" "$img" -background white -gravity center \
                  -extent "$(identify -format '%[fx:int(w*2.5)]x%[fx:int(h*2.5)]' "$img")" "$dst" ;;
      esac
    done
    start=$(date +%s.%N)
    # A 600 DPI receipt at 200 % or on the 2.5x canvas is over the default 100 MP page limit.
    "$bin" ocr --device cpu --max-pixels 400000000 --format json --out "$dir/json" \
      "$dir"/img/*.png 2> "$dir/ocr.log" || true
    end=$(date +%s.%N)
    python3 - "$dir" "$expect" "$start" "$end" <<'PY'
import json, os, sys
d, expect, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
txt = os.path.join(d, "txt"); os.makedirs(txt, exist_ok=True)
right = total = 0
rots = {}
for f in sorted(os.listdir(os.path.join(d, "json"))):
    if not f.endswith(".json"):
        continue
    doc = json.load(open(os.path.join(d, "json", f)))
    pages = doc.get("document", doc).get("pages", [])
    lines = [l["text"] for p in pages for b in p.get("blocks", []) for l in b.get("lines", [])]
    open(os.path.join(txt, f[:-5] + ".txt"), "w").write("\n".join(lines) + "\n")
    for p in pages:
        total += 1
        right += p.get("rotation", 0) == expect
        rots[f[:-5]] = p.get("rotation", 0)
n = len(rots)
json.dump({"expect": expect, "right": right, "total": total, "rotations": rots,
           "_wall_s": end - start}, open(os.path.join(d, "orientation.json"), "w"), indent=1)
json.dump({"_wall_s": end - start}, open(os.path.join(txt, "timings.json"), "w"))
PY
    python3 "$eval_py" --data "$dir/img" --outputs "$dir/txt" --json "$dir/eval.json" > "$dir/eval.txt"
    python3 - "$dir" "$set_name" "$v" >> "$summary" <<'PY'
import json, sys
d, s, v = sys.argv[1:]
e = json.load(open(d + "/eval.json")); o = json.load(open(d + "/orientation.json"))
m = e["summary"]
def pick(k):
    return m.get(k, float("nan"))
pages = o["total"]
print(f"{s}\t{v}\t{pages}\t{pick('cer_ci'):.3f}\t{pick('bow_f1_ci'):.3f}\t{o['right']}/{pages}\t{pages / max(o['_wall_s'], 1e-9):.2f}")
PY
    tail -1 "$summary"
  done
done
column -t -s $'\t' "$summary"
