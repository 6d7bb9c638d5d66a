#!/usr/bin/env bash
# Regenerates the sample pages in tests/data/ (our own text, rendered with ImageMagick and the
# fonts of fonts-dejavu-core / fonts-liberation2, then "printed and scanned": slight rotation,
# blur, noise, gray paper). Used by the README quick start and the golden end-to-end tests.
# Needs: imagemagick, fonts-dejavu-core, fonts-liberation2.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data
mkdir -p "$out"

letter_text='ferrocr sample letter
28 November 2026

Dear Ms. Example,

Thank you for your order No. 48213 of 12 March.
The invoice total is $1,234.50, due within 30 days.
Please quote reference INV-2026-0042 when paying.

Our office hours are Monday to Friday, 9:00 to 17:30.
Call us at +1 (555) 010-4477 or write to the address below.

Yours sincerely,
The Accounts Team
221B Baker Street, London NW1 6XE'

convert -size 1700x1400 xc:white -font DejaVu-Serif -pointsize 34 -fill '#151515' \
  -annotate +120+150 "$letter_text" \
  -rotate 1.2 -background white -gravity center -extent 1700x1400 \
  -blur 0x0.8 -attenuate 0.25 +noise Gaussian -colorspace Gray -level 0%,96% \
  "$out/sample-letter.png"

receipt_text='   CORNER MARKET LTD
  12 HIGH ST, SPRINGFIELD
   TEL 555-0199

DATE: 03/11/2026  14:52
RECEIPT NO: 000871

2 x MILK 1L          3.98
BREAD WHOLEMEAL      2.45
APPLES 1KG           3.10
COFFEE 250G          6.75

TOTAL               16.28
CASH                20.00
CHANGE               3.72

  THANK YOU, COME AGAIN'

convert -size 760x1150 xc:'#f4f1ea' -font Liberation-Mono -pointsize 30 -fill '#3a3a3a' \
  -annotate +40+70 "$receipt_text" \
  -rotate -0.8 -background '#f4f1ea' -gravity center -extent 760x1150 \
  -blur 0x0.6 -attenuate 0.3 +noise Gaussian -colorspace Gray -quality 85 \
  "$out/sample-receipt.jpg"

printf '%s\n' "$letter_text" > "$out/sample-letter.gt.txt"
printf '%s\n' "$receipt_text" | sed 's/^ *//' > "$out/sample-receipt.gt.txt"
echo "wrote $out/sample-letter.png $out/sample-receipt.jpg"
