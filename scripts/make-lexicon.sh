#!/usr/bin/env bash
# Rebuild models/default/lexicon.txt: the words of Debian's wamerican list (SCOWL, size 50;
# notice in models/default/lexicon-copyright.txt) made of ASCII letters only, lower-cased, plus
# the document vocabulary of models/lexicon-extra.txt; sorted, without repeats.
# Usage: scripts/make-lexicon.sh [WORDS_FILE]   (default /usr/share/dict/american-english)
set -euo pipefail
cd "$(dirname "$0")/.."
words="${1:-/usr/share/dict/american-english}"
[ -f "$words" ] || { echo "no $words: apt-get install wamerican" >&2; exit 1; }
{ grep -E '^[A-Za-z]{2,}$' "$words"; grep -v '^#' models/lexicon-extra.txt; } |
  tr 'A-Z' 'a-z' | LC_ALL=C sort -u > models/default/lexicon.txt
cp /usr/share/doc/wamerican/copyright models/default/lexicon-copyright.txt 2>/dev/null || true
echo "models/default/lexicon.txt: $(wc -l < models/default/lexicon.txt) words"
