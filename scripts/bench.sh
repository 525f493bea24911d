#!/usr/bin/env bash
# `make bench`: builds the release package and the release fixture server, then measures the
# library against hand-written baselines in headless Chromium (tests/bench/bench.mjs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/build.sh
source scripts/fixture.sh
start_fixture
node tests/bench/bench.mjs "$FIXTURE_URL"
