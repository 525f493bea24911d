#!/usr/bin/env bash
# Installs what the build and the tests need, and nothing that is already there.
# Every tool comes from a package registry: rustup, Debian's archive, crates.io, npm.
set -euo pipefail

WASM_PACK_VERSION=0.15.1
# Must equal the wasm-bindgen version in Cargo.lock (checked below).
WASM_BINDGEN_VERSION=0.2.130

root=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[setup] %s\n' "$*" >&2; }

lock_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$root/Cargo.lock")
if [ "$lock_version" != "$WASM_BINDGEN_VERSION" ]; then
  log "Cargo.lock has wasm-bindgen $lock_version but setup pins $WASM_BINDGEN_VERSION"
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    log "adding rustup component $component"
    rustup component add "$component"
  fi
done

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "installing Debian chromium and chromium-driver"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi

have_version() { # tool, expected version
  command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -q " $2\$"
}

# cargo install --locked NAME VERSION, from crates.io.
# A registry mirror can lack a version that the crate's published Cargo.lock pins. Then the
# same crate source (from cargo's own registry cache) is installed with --locked from a lockfile
# in which only the unavailable packages are moved to the nearest version the registry has.
install_locked() {
  local name=$1 version=$2 err missing src work
  err=$(mktemp)
  if cargo install --locked --quiet "$name" --version "$version" 2>"$err"; then rm -f "$err"; return 0; fi
  missing=$(grep -o 'failed to select a version for the requirement `[A-Za-z0-9_-]*' "$err" | awk '{print $NF}' | tr -d '`' | sort -u)
  if [ -z "$missing" ]; then cat "$err" >&2; rm -f "$err"; return 1; fi
  src=$(ls ~/.cargo/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n 1)
  if [ -z "$src" ]; then cat "$err" >&2; rm -f "$err"; return 1; fi
  rm -f "$err"
  work=$(mktemp -d)
  tar -xzf "$src" -C "$work"
  for attempt in 1 2 3 4 5; do
    for pkg in $missing; do
      log "$name $version: $pkg's locked version is not in the registry; using the nearest one it has"
      (cd "$work/$name-$version" && cargo update --quiet -p "$pkg")
    done
    err=$(mktemp)
    if cargo install --locked --quiet --path "$work/$name-$version" 2>"$err"; then
      rm -rf "$work" "$err"; return 0
    fi
    missing=$(grep -o 'failed to select a version for the requirement `[A-Za-z0-9_-]*' "$err" | awk '{print $NF}' | tr -d '`' | sort -u)
    if [ -z "$missing" ]; then cat "$err" >&2; rm -rf "$work" "$err"; return 1; fi
    rm -f "$err"
  done
  rm -rf "$work"; return 1
}

pids=()
if ! have_version wasm-pack "$WASM_PACK_VERSION"; then
  log "cargo install wasm-pack $WASM_PACK_VERSION"
  install_locked wasm-pack "$WASM_PACK_VERSION" & pids+=($!)
fi
if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  install_locked wasm-bindgen-cli "$WASM_BINDGEN_VERSION" & pids+=($!)
fi
for p in "${pids[@]}"; do wait "$p"; done

# JS tooling (binaryen's wasm-opt, playwright-core, typescript, vite) comes from npm,
# pinned by package-lock.json.
if [ -f "$root/package-lock.json" ]; then
  if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    log "npm ci"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
log "tools ready"
