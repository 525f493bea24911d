#!/usr/bin/env bash
# The whole test suite: native tests of the core and the fixture server, then the browser
# tests in headless Chromium against a fixture server on 127.0.0.1.
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

echo "== browser tests (headless Chromium)"
# The runner's default of 20 s per test binary is far too short for network tests.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
# The test files are named so that the slow 1 GiB test stays out (`make test-big` runs it).
wasm-pack --log-level warn test --headless --chrome --chromedriver "$(command -v chromedriver)" --mode no-install \
  -- --features testing ${BROWSER_TESTS:---test browser_engine --test browser_resume --test browser_manager --test browser_lifetime --test browser_api}

echo "== npm package: plain and Vite consumers in headless Chromium, TypeScript declarations"
./scripts/consumer-test.sh

echo "== the tile-grid demo, end to end in headless Chromium"
# The mid-run screenshot is kept as a test artifact (tests/artifacts/grid.png).
node tests/e2e/demo.mjs "$FIXTURE_URL" "$root/tests/artifacts/grid.png"

echo "== npm package: its README, entry points before init(), declarations with and without a tsconfig" && ./scripts/package-test.sh

echo "== all tests passed in $(( $(date +%s) - started )) s"
