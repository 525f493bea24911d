#!/usr/bin/env bash
# Named test steps that all run even when one fails, and one verdict at the end.
# Usage: source scripts/steps.sh; begin_steps WORKDIR; step NAME COMMAND...; end_steps WHAT
# Sets `work` (WORKDIR, emptied) and `npm_flags`.

npm_flags=(--no-audit --no-fund --loglevel=error)

begin_steps() { # work directory
  work=$1
  rm -rf "$work"
  mkdir -p "$work"
  failed=()
}

step() { # name, command...
  local name=$1
  shift
  echo "-- $name"
  if "$@"; then echo "   ok: $name"; else failed+=("$name"); echo "   FAILED: $name"; fi
}

end_steps() { # what was tested, for the messages
  if [ ${#failed[@]} -ne 0 ]; then
    printf '%s failed: %s\n' "$1" "${failed[@]}" >&2
    exit 1
  fi
}
