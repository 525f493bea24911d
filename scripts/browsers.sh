#!/usr/bin/env bash
# What the WebKit runs need around them: an X display (MiniBrowser has no headless mode) and
# a WebKitWebDriver server. Usage: source scripts/browsers.sh; start_display; start_webkit_driver
# Sets DISPLAY, and WEBKIT_DRIVER_URL; both are stopped when the calling shell exits.

browsers_pids=()
stop_browsers_support() {
  local pid
  for pid in "${browsers_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); })'
}

# An Xvfb display of its own (the first free number from 90), unless DISPLAY is set.
start_display() {
  local n i
  if [ -n "${DISPLAY:-}" ]; then return 0; fi
  for n in $(seq 90 120); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
    Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
    browsers_pids+=($!)
    for i in $(seq 1 100); do
      if [ -e "/tmp/.X11-unix/X$n" ]; then
        export DISPLAY=":$n"
        return 0
      fi
      kill -0 "${browsers_pids[-1]}" 2>/dev/null || break
      sleep 0.1
    done
  done
  echo "could not start Xvfb" >&2
  return 1
}

# WebKitWebDriver on a free port of 127.0.0.1; sets WEBKIT_DRIVER_URL once it answers.
start_webkit_driver() {
  local port i
  port=$(free_port)
  WebKitWebDriver --host=127.0.0.1 --port="$port" >"${1:-/dev/null}" 2>&1 &
  browsers_pids+=($!)
  for i in $(seq 1 100); do
    if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/status"; then
      export WEBKIT_DRIVER_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "WebKitWebDriver did not start within 10 s" >&2
  return 1
}
