#!/usr/bin/env bash
# Time and peak memory of `omnimig samples --orders N` per format (issue 5).
# Usage: bench/samples_scale.sh [ORDERS] [OUT_DIR]   (defaults: 1000000, bench/out)
set -euo pipefail
orders=${1:-1000000}
out=${2:-bench/out}
mkdir -p "$out"
for fmt in csv xlsx; do
  log="$out/samples-$fmt.time"
  /usr/bin/time -v omnimig samples --out "$out/samples-$fmt" --orders "$orders" --format "$fmt" --seed 1 2> "$log"
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  size=$(du -sh "$out/samples-$fmt" | cut -f1)
  echo "| $fmt | $orders | $(grep '^wrote' "$log" | sed 's/ to .*//') | $wall | $((rss / 1024)) MB | $size |"
done
