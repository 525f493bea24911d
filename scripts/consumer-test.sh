#!/usr/bin/env bash
# Tests the npm package the way its users get it: builds and packs pkg/, installs the tarball
# into a plain ES-module page (import map, no bundler) and into a Vite application, runs both
# in every engine of $ENGINES (Chromium, Firefox, WebKit: tests/consumers/browser.mjs) against
# the fixture server, and type-checks a usage example of the whole API against the shipped
# .d.ts. Uses the fixture server at $FIXTURE_URL, or starts its own, and the X display in
# $DISPLAY for WebKit, or starts Xvfb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/build.sh

# Stops what this script started (start_fixture's own EXIT trap is replaced by this one).
own_fixture_pid=""
vite_pid=""
cleanup() {
  for pid in $vite_pid $own_fixture_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
if [ -z "${FIXTURE_URL:-}" ]; then
  source scripts/fixture.sh
  start_fixture
  own_fixture_pid=$FIXTURE_PID
  echo "fixture server at $FIXTURE_URL"
fi
source scripts/browsers.sh
trap 'cleanup; stop_browsers_support' EXIT
start_display

source scripts/steps.sh
begin_steps "$root/.run/consumers"

echo "-- npm pack"
tarball="$work/$(cd pkg && npm pack --pack-destination "$work" "${npm_flags[@]}" | tail -n 1)"
check_tarball() {
  local expected actual
  expected=$(printf 'package/%s\n' LICENSE README.md package.json resumable_downloads.d.ts \
    resumable_downloads.js resumable_downloads_bg.wasm resumable_downloads_bg.wasm.d.ts \
    sw.d.ts sw.js | sort)
  actual=$(tar -tzf "$tarball" | grep -v '^package/snippets/' | sort)
  if [ "$actual" != "$expected" ]; then
    echo "unexpected contents of $(basename "$tarball"):" >&2
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    return 1
  fi
  echo "   $(basename "$tarball"): $(wc -c <"$tarball") bytes"
}
step "package contents" check_tarball

plain() {
  cp -r tests/consumers/plain "$work/plain"
  cp tests/consumers/shared/check.js tests/consumers/shared/sw-setup.js \
    tests/consumers/shared/worker-check.js "$work/plain/"
  # The package has no dependencies: the tarball is all there is to install.
  (cd "$work/plain" && npm install --offline "${npm_flags[@]}" "$tarball") || return 1
  # The `exports` map resolves the entry point and the .wasm (what bundlers ask for).
  (cd "$work/plain" && node --input-type=module -e '
    for (const s of ["resumable-downloads", "resumable-downloads/sw", "resumable-downloads/resumable_downloads_bg.wasm"])
      console.log(`   ${s} -> ${import.meta.resolve(s).replace(/^.*\/node_modules\//, "")}`);') ||
    return 1
  node tests/consumers/run.mjs --serve "$work/plain" --query "fixture=$FIXTURE_URL"
}
step "plain consumer (import map, no bundler)" plain
step "save() and the notification of a batch finished while hidden" \
  node tests/consumers/features.mjs "$work/plain" "$FIXTURE_URL"
step "tabs: one writer, mirrored progress, takeover, cancel from an observer, schema upgrade" \
  node tests/consumers/tabs.mjs "$work/plain" "$FIXTURE_URL"
step "background mode: Background Fetch with the tabs closed, resume, cancel, failure (Chromium)" \
  node tests/consumers/background.mjs "$work/plain" "$FIXTURE_URL"

vite_app() {
  cp -r tests/consumers/vite "$work/vite"
  cp tests/consumers/shared/check.js tests/consumers/shared/sw-setup.js \
    tests/consumers/shared/worker-check.js "$work/vite/src/"
  # The background-mode page is the plain consumer's, imported through Vite's resolution.
  cp tests/consumers/plain/background.js tests/consumers/plain/pages.js "$work/vite/src/"
  # Vite and its dependencies come from the npm cache when the root `npm ci` put them there.
  (cd "$work/vite" && npm install --prefer-offline "${npm_flags[@]}" "$tarball" &&
    node_modules/.bin/vite build --logLevel warn) || return 1
  if ! ls "$work"/vite/dist/assets/*.wasm >/dev/null 2>&1; then
    echo "vite build emitted no .wasm asset" >&2
    return 1
  fi
  if [ ! -f "$work/vite/dist/sw.js" ]; then
    echo "vite build emitted no dist/sw.js" >&2
    return 1
  fi
  node tests/consumers/run.mjs --serve "$work/vite/dist" --query "fixture=$FIXTURE_URL"
}
step "Vite consumer (vite build)" vite_app
step "background mode in the Vite build: its service worker stores a download finished with the tab closed" \
  node tests/consumers/background.mjs "$work/vite/dist" "$FIXTURE_URL" --closed-only

vite_dev() {
  local port i status=0
  [ -d "$work/vite/node_modules/vite" ] || return 1
  port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); })')
  (cd "$work/vite" && FIXTURE_URL=$FIXTURE_URL exec node_modules/.bin/vite --host 127.0.0.1 --port "$port" --strictPort \
    --clearScreen false --logLevel warn) >"$work/vite-dev.log" 2>&1 &
  vite_pid=$!
  for i in $(seq 1 150); do
    if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    if ! kill -0 "$vite_pid" 2>/dev/null || [ "$i" -eq 150 ]; then
      echo "vite dev server did not start within 30 s" >&2
      cat "$work/vite-dev.log" >&2
      return 1
    fi
    sleep 0.2
  done
  node tests/consumers/run.mjs "http://127.0.0.1:$port/?fixture=$FIXTURE_URL" || status=1
  kill "$vite_pid" 2>/dev/null || true
  wait "$vite_pid" 2>/dev/null || true
  vite_pid=""
  return "$status"
}
step "Vite consumer (vite dev server)" vite_dev

step "TypeScript: tests/types/example.ts against pkg/resumable_downloads.d.ts" \
  node_modules/.bin/tsc -p tests/types/tsconfig.json

end_steps "consumer tests"
echo "consumer tests passed"
