#!/usr/bin/env bash
# Starts the fixture server in the background (release build) and waits until it listens.
# Usage: source scripts/fixture.sh; start_fixture [extra args...]
# Sets FIXTURE_URL (and STATIC_URL when --static-root is passed) and FIXTURE_PID.
# The server is stopped when the calling shell exits.

start_fixture() {
  local root run port_file static_file i
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  run="$root/.run"
  mkdir -p "$run"
  port_file="$run/fixture.port"
  static_file="$run/static.port"
  rm -f "$port_file" "$static_file"
  (cd "$root" && cargo build --quiet --release -p fixture-server)
  local static_args=()
  case " $* " in *" --static-root "*) static_args=(--static-port-file "$static_file") ;; esac
  "$root/target/release/fixture-server" --port-file "$port_file" "${static_args[@]}" "$@" \
    >"$run/fixture.log" 2>&1 &
  FIXTURE_PID=$!
  trap 'kill "$FIXTURE_PID" 2>/dev/null || true; wait "$FIXTURE_PID" 2>/dev/null || true' EXIT
  for i in $(seq 1 300); do
    if [ -s "$port_file" ]; then break; fi
    if ! kill -0 "$FIXTURE_PID" 2>/dev/null; then
      cat "$run/fixture.log" >&2
      echo "fixture server exited before listening" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ ! -s "$port_file" ]; then echo "fixture server did not start within 30 s" >&2; return 1; fi
  FIXTURE_URL="http://127.0.0.1:$(cat "$port_file")"
  export FIXTURE_URL
  if [ -s "$static_file" ]; then
    STATIC_URL="http://127.0.0.1:$(cat "$static_file")"
    export STATIC_URL
  fi
  curl -fsS -m 5 "$FIXTURE_URL/health" >/dev/null
}
