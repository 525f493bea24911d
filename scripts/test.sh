#!/usr/bin/env bash
# The whole test suite: native tests of the core and the fixture server, then the browser
# tests in headless Chromium, headless Firefox ESR and WebKitGTK's MiniBrowser (on Xvfb)
# against a fixture server on 127.0.0.1. ENGINES="chromium firefox" narrows the engines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)

./scripts/setup.sh

echo "== lint: rustfmt, clippy (native and wasm32), layering"
cargo fmt --all --check
python3 scripts/check_layers.py
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo clippy --quiet --target wasm32-unknown-unknown --lib -- -D warnings
cargo clippy --quiet --target wasm32-unknown-unknown --all-targets --features testing -- -D warnings

echo "== native tests: core (incl. proptest) and fixture server"
cargo test --workspace --quiet

echo "== fixture server"
source scripts/fixture.sh
start_fixture
echo "fixture server at $FIXTURE_URL"

# WebKit's MiniBrowser needs a display (Xvfb) and a WebKitWebDriver server.
source scripts/browsers.sh
trap 'stop_browsers_support; kill "$FIXTURE_PID" 2>/dev/null || true; wait "$FIXTURE_PID" 2>/dev/null || true' EXIT
start_display

# The runner's default of 20 s per test binary is far too short for network tests.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
# The test files are named so that the slow 1 GiB test stays out (`make test-big` runs it).
suites=${BROWSER_TESTS:---test browser_engine --test browser_resume --test browser_manager --test browser_api --test browser_servers --test browser_sinks --test browser_storage --test browser_worker --test browser_handover}
# The lifetime tests force garbage collections with gc(), which only Chromium exposes
# (--js-flags=--expose-gc in webdriver.json); they run there.
if [ -n "${BROWSER_TESTS:-}" ]; then chromium_only=""; else chromium_only="--test browser_lifetime"; fi
engines=${ENGINES:-chromium firefox webkit}
# Every suite runs in every engine even when one fails, so that a run reports all failures.
browser_failures=()
wasm_test() { # extra suites, then wasm-pack arguments before `--`
  local suite extra=$1
  shift
  for suite in ${suites//--test/} ${extra//--test/}; do
    # The `testing` feature compiles in the test hooks (fault injection, resource counters).
    if ! wasm-pack --log-level warn test --mode no-install "$@" -- --features testing --test "$suite"; then
      browser_failures+=("$engine: $suite")
    fi
  done
}
for engine in $engines; do
  case $engine in
    chromium)
      echo "== browser tests (headless Chromium)"
      wasm_test "$chromium_only" --headless --chrome --chromedriver "$(command -v chromedriver)" ;;
    firefox)
      echo "== browser tests (headless Firefox ESR)"
      WASM_BINDGEN_TEST_WEBDRIVER_JSON=tests/drivers/firefox.json \
        wasm_test "" --headless --firefox --geckodriver "$(command -v geckodriver)" ;;
    webkit)
      echo "== browser tests (WebKitGTK MiniBrowser on Xvfb)"
      # The runner speaks plain W3C WebDriver to a remote driver given as GECKODRIVER_REMOTE;
      # WebKitWebDriver starts MiniBrowser from the capabilities in tests/drivers/webkit.json.
      start_webkit_driver .run/webkit-driver.log
      GECKODRIVER_REMOTE=$WEBKIT_DRIVER_URL WASM_BINDGEN_TEST_WEBDRIVER_JSON=tests/drivers/webkit.json \
        wasm_test "" --headless --firefox --geckodriver "$(command -v WebKitWebDriver)" ;;
    *) echo "unknown engine $engine (chromium, firefox, webkit)" >&2; exit 2 ;;
  esac
done
# Chromium and Firefox keep downloads in OPFS files by default; WebKitGTK, which has no
# OPFS, runs every suite on IndexedDB chunks. The suites that store downloads run once more
# in Chromium with storage: 'indexeddb', so that both backends pass them in one engine too.
if [ -z "${BROWSER_TESTS:-}" ] && [[ " $engines " == *" chromium "* ]]; then
  echo "== browser tests (headless Chromium, storage: 'indexeddb')"
  engine="chromium (indexeddb)"
  suites="--test browser_engine --test browser_resume --test browser_manager --test browser_api --test browser_servers --test browser_handover"
  RD_TEST_STORAGE=indexeddb wasm_test "--test browser_lifetime" --headless --chrome --chromedriver "$(command -v chromedriver)"
fi
if [ ${#browser_failures[@]} -ne 0 ]; then
  printf 'browser tests failed: %s\n' "${browser_failures[@]}" >&2
  exit 1
fi
export ENGINES=$engines

echo "== npm package: plain and Vite consumers, save(), notifications, tabs in $engines; TypeScript declarations"
./scripts/consumer-test.sh

echo "== the tile-grid demo, end to end in $engines"
# The mid-run screenshots are kept as test artifacts (tests/artifacts/grid.png is Chromium's).
node tests/e2e/demo.mjs "$FIXTURE_URL" "$root/tests/artifacts/grid.png"

echo "== npm package: its README, entry points before init(), declarations with and without a tsconfig" && ./scripts/package-test.sh

echo "== all tests passed in $(( $(date +%s) - started )) s"
