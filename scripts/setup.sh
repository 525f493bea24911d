#!/usr/bin/env bash
# Installs what the build and the tests need, and nothing that is already there.
# Every tool comes from a package registry: rustup, Debian's archive, crates.io, npm.
set -euo pipefail

WASM_PACK_VERSION=0.15.1
# Must equal the wasm-bindgen version in Cargo.lock (checked below).
WASM_BINDGEN_VERSION=0.2.130
GECKODRIVER_VERSION=0.37.1
# WebKitGTK's browser for automation, from Debian's webkit2gtk-driver (libwebkit2gtk-4.1).
MINIBROWSER=/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser

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

# The three browser engines and their WebDriver servers, from Debian: Chromium, Firefox ESR
# (geckodriver comes from crates.io, below) and WebKitGTK's MiniBrowser, which has no headless
# mode and runs on an Xvfb display.
declare -A apt_for=([chromium]=chromium [chromedriver]=chromium-driver [firefox-esr]=firefox-esr
  [WebKitWebDriver]=webkit2gtk-driver [Xvfb]=xvfb)
missing_apt=()
for tool in chromium chromedriver firefox-esr WebKitWebDriver Xvfb; do
  command -v "$tool" >/dev/null || missing_apt+=("${apt_for[$tool]}")
done
if [ ! -x "$MINIBROWSER" ]; then missing_apt+=(webkit2gtk-driver); fi
if [ ${#missing_apt[@]} -ne 0 ]; then
  mapfile -t missing_apt < <(printf '%s\n' "${missing_apt[@]}" | sort -u)
  log "installing Debian ${missing_apt[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  # Waits for another apt-get or dpkg run to release its lock instead of failing.
  apt_opts=(-o DPkg::Lock::Timeout=900)
  $sudo_cmd apt-get "${apt_opts[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get "${apt_opts[@]}" install -y -qq "${missing_apt[@]}" >/dev/null
fi

have_version() { # tool, expected version
  command -v "$1" >/dev/null && "$1" --version 2>/dev/null | head -n 1 | grep -Eq " $2( |\$)"
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
if ! have_version geckodriver "$GECKODRIVER_VERSION"; then
  log "cargo install geckodriver $GECKODRIVER_VERSION"
  install_locked geckodriver "$GECKODRIVER_VERSION" & pids+=($!)
fi
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ "$status" -ne 0 ]; then log "a cargo install failed"; exit 1; fi

# JS tooling (binaryen's wasm-opt, selenium-webdriver, playwright-core for `make bench`,
# typescript, vite) comes from npm, pinned by package-lock.json.
if [ -f "$root/package-lock.json" ]; then
  if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    log "npm ci"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
log "tools ready"
