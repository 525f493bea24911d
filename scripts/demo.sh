#!/usr/bin/env bash
# Builds the package and serves the demo page and the fixture server on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/build.sh
source scripts/fixture.sh
demo_port=${DEMO_PORT:-8787}
if ! start_fixture --static-root "$root" --static-port "$demo_port"; then
  echo "port $demo_port is taken; using a free one (set DEMO_PORT to choose)" >&2
  start_fixture --static-root "$root" --static-port 0
fi
printf 'export const FIXTURE_URL = %s;\n' "\"$FIXTURE_URL\"" > www/config.js
echo
echo "  demo:           $STATIC_URL/www/"
echo "  fixture server: $FIXTURE_URL"
echo
echo "Press Ctrl-C to stop."
wait "$FIXTURE_PID"
