#!/usr/bin/env bash
# Tests what an installer of the npm package gets, beyond scripts/consumer-test.sh: packs pkg/,
# checks that the tarball carries the package's own README (docs/npm/README.md) and nothing
# that only makes sense in the repository, opens the installed package's entry points in
# headless Chromium (before and after init(), constructors, `cause`, the option names the
# parser accepts against the .d.ts), and type-checks tests/types/contract.ts and example.ts
# against the installed declarations with `tsc --strict`: with a tsconfig (bundler and NodeNext
# resolution) and with none. Uses the fixture server at $FIXTURE_URL, or starts its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/build.sh

if [ -z "${FIXTURE_URL:-}" ]; then
  source scripts/fixture.sh
  start_fixture
  echo "fixture server at $FIXTURE_URL"
fi

source scripts/steps.sh
begin_steps "$root/.run/package"

tarball="$work/$(cd pkg && npm pack --pack-destination "$work" "${npm_flags[@]}" | tail -n 1)"

readme_check() {
  local readme="$work/README.md" status=0 pattern
  tar -xzf "$tarball" -C "$work" --strip-components=1 package/README.md || return 1
  if ! cmp -s "$readme" docs/npm/README.md; then
    echo "the tarball's README.md is not docs/npm/README.md" >&2
    return 1
  fi
  # What exists only in the repository: its commands, folders and files, and relative links
  # (which the registry page cannot follow).
  for pattern in '\bmake (demo|test|bench|build|setup)\b' '\bcargo\b' '\bwasm-pack\b' \
    '(^|[^[:alnum:]_])(www|tests|docs|scripts|src|target|pkg)/' 'grid\.png' \
    '\]\((\.|/)?[A-Za-z0-9_-]+(/|\.md|\.png|\.rs)' '\]\([^)h#]' 'README\.md' 'LICENSE\)'; do
    if grep -nE "$pattern" "$readme" >&2; then
      echo "   the package README has repository-only content (/$pattern/)" >&2
      status=1
    fi
  done
  # And what an installer needs to find there.
  for pattern in '^## Install' 'npm install resumable-downloads' '^## Quick start' \
    '^## Manager' '^### Events' '^## Errors' '^## Browser support' '^## TypeScript' \
    'Access-Control-Expose-Headers' 'call init\(\) first'; do
    if ! grep -qE "$pattern" "$readme"; then
      echo "   the package README lacks /$pattern/" >&2
      status=1
    fi
  done
  [ "$status" -eq 0 ] && echo "   README.md: $(wc -l <"$readme") lines, as docs/npm/README.md"
  return "$status"
}
step "npm pack: the package's own README, no repository-only content" readme_check

site="$work/site"
install_site() {
  mkdir -p "$site"
  # An ES-module project, so that NodeNext resolution reads the `exports` map as ESM.
  printf '{ "name": "package-test", "private": true, "type": "module" }\n' >"$site/package.json"
  (cd "$site" && npm install --offline "${npm_flags[@]}" "$tarball") &&
    cp tests/package/index.html tests/package/entry.js tests/types/contract.ts \
      tests/types/example.ts tests/types/tsconfig.installed.json "$site/"
}
step "install the tarball" install_site

step "entry points in every engine; parser options = .d.ts options" \
  node tests/package/run.mjs "$site" "$FIXTURE_URL"

tsc="$root/node_modules/.bin/tsc"
step "tsc --strict with a tsconfig (bundler resolution, lib ES2020 + DOM)" \
  bash -c "cd '$site' && '$tsc' -p tsconfig.installed.json"
step "tsc --strict with a tsconfig (NodeNext resolution)" \
  bash -c "cd '$site' && '$tsc' -p tsconfig.installed.json --module nodenext --moduleResolution nodenext"
step "tsc --strict --noEmit contract.ts (no tsconfig: TypeScript's defaults)" \
  bash -c "cd '$site' && '$tsc' --strict --noEmit contract.ts"

end_steps "package tests"
echo "package tests passed ($("$tsc" --version))"
