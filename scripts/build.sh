#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack, then wasm-opt -Oz on the .wasm (binaryen from
# npm, pinned in package-lock.json), then the published package.json. Prints the gzipped size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/setup.sh
# Source paths in the module (panic locations) name the crate, not this machine: the cargo
# home and this checkout are remapped, so that the package does not carry the builder's
# directories and builds the same wherever it is built. (Only the release build of the
# wasm32 target sees these flags; the tests build another profile.)
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=crates --remap-path-prefix=$root=resumable-downloads"
wasm-pack --log-level warn build --release --target web --mode no-install --out-dir pkg --out-name resumable_downloads
wasm="pkg/resumable_downloads_bg.wasm"
js="pkg/resumable_downloads.js"

# The WebAssembly features rustc's default wasm32 CPU emits (they are also listed in the
# module's target_features section). wasm-opt must allow all of them to validate the module,
# and may use no others. wasm-opt also leaves out the `name` section (function names for stack
# traces), which is most of what it saves.
wasm_features=(
  --enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong
  --enable-multivalue --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-reference-types --enable-sign-ext
)
# First --merge-similar-functions (functions that differ only in constants become one that
# takes them as parameters), then -Oz until it stops shrinking (--converge). --low-memory-unused lets it fold constant
# offsets into loads and stores: that differs only for an address computation that wraps
# around 4 GiB into the first 1 KiB, which Rust code never does. --strip-producers drops the
# toolchain-versions section, which no runtime or bundler reads.
wasm_opt_flags=(--merge-similar-functions -Oz --converge --low-memory-unused --strip-producers)
wasm_opt="node_modules/.bin/wasm-opt"
if [ -x "$wasm_opt" ]; then
  before=$(wc -c <"$wasm")
  before_gz=$(gzip -9c "$wasm" | wc -c)
  if ! "$wasm_opt" "${wasm_opt_flags[@]}" "${wasm_features[@]}" "$wasm" -o "$wasm.opt"; then
    rm -f "$wasm.opt"
    echo "wasm-opt failed on $wasm" >&2
    exit 1
  fi
  after=$(wc -c <"$wasm.opt")
  if [ "$after" -lt "$before" ]; then
    mv "$wasm.opt" "$wasm"
    printf 'wasm-opt %s: %s -> %s bytes (%s -> %s gzipped)\n' \
      "${wasm_opt_flags[*]}" "$before" "$after" "$before_gz" "$(gzip -9c "$wasm" | wc -c)"
  else
    rm -f "$wasm.opt"
    echo "wasm-opt ${wasm_opt_flags[*]} did not make the module smaller ($before -> $after bytes); kept the original"
  fi
else
  echo "wasm-opt not found at $wasm_opt (npm ci installs it): the .wasm is not size-optimised" >&2
fi

node scripts/finalize-package.mjs pkg
printf 'package size: %s bytes wasm (%s gzipped), %s bytes JS glue (%s gzipped)\n' \
  "$(wc -c <"$wasm")" "$(gzip -9c "$wasm" | wc -c)" "$(wc -c <"$js")" "$(gzip -9c "$js" | wc -c)"
