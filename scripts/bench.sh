#!/usr/bin/env bash
# `make bench`: builds the release package and the release fixture server, then measures the
# library against hand-written baselines in headless Chromium (tests/bench/bench.mjs), and the
# resident memory of each whole browser during a 256 MiB download (tests/bench/rss.mjs; WebKit
# on an Xvfb display).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/build.sh
source scripts/fixture.sh
start_fixture
node tests/bench/bench.mjs "$FIXTURE_URL"
source scripts/browsers.sh
trap 'stop_browsers_support; kill "$FIXTURE_PID" 2>/dev/null || true' EXIT
start_display
node tests/bench/rss.mjs "$FIXTURE_URL"
