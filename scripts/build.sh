#!/usr/bin/env bash
# Builds the npm package into pkg/ and prints its gzipped size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/setup.sh
wasm-pack --log-level warn build --release --target web --mode no-install --out-dir pkg --out-name resumable_downloads
wasm="pkg/resumable_downloads_bg.wasm"
js="pkg/resumable_downloads.js"
printf 'package size: %s bytes wasm (%s gzipped), %s bytes JS glue (%s gzipped)\n' \
  "$(wc -c <"$wasm")" "$(gzip -9c "$wasm" | wc -c)" "$(wc -c <"$js")" "$(gzip -9c "$js" | wc -c)"
