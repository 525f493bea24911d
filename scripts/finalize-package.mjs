#!/usr/bin/env node
// Turns the package.json that wasm-pack writes into pkg/ into the published one: name, version
// (from Cargo.toml), license, entry points, an `exports` map that lets bundlers resolve the
// .wasm, the list of shipped files, and `sideEffects`. Copies README.md and LICENSE into pkg/.
// Drops the doc comments from the JS glue (the .d.ts keeps them).
//
// Usage: node scripts/finalize-package.mjs [pkgDir]   (default: pkg)

import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = resolve(root, process.argv[2] ?? 'pkg');
const stem = 'resumable_downloads';

function fail(message) {
  console.error(`finalize-package: ${message}`);
  process.exit(1);
}

// The `version` of the [package] section of Cargo.toml.
function cargoVersion() {
  const toml = readFileSync(join(root, 'Cargo.toml'), 'utf8');
  let section = '';
  for (const raw of toml.split('\n')) {
    const line = raw.trim();
    const header = line.match(/^\[([^\]]+)\]$/);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const version = line.match(/^version\s*=\s*"([^"]+)"/);
    if (section === 'package' && version) return version[1];
  }
  fail('no version in the [package] section of Cargo.toml');
}

const js = `${stem}.js`;
const dts = `${stem}.d.ts`;
const wasm = `${stem}_bg.wasm`;
const wasmDts = `${stem}_bg.wasm.d.ts`;

const generatedPath = join(pkgDir, 'package.json');
if (!existsSync(generatedPath)) fail(`${generatedPath} is missing; run wasm-pack first`);
for (const f of [js, dts, wasm, wasmDts]) {
  if (!existsSync(join(pkgDir, f))) fail(`${join(pkgDir, f)} is missing`);
}
for (const f of ['README.md', 'LICENSE']) copyFileSync(join(root, f), join(pkgDir, f));

const generated = JSON.parse(readFileSync(generatedPath, 'utf8'));

// wasm-bindgen declares `[Symbol.dispose](): void` on every class, which needs the
// `esnext.disposable` lib. Referencing it from the declarations lets them type-check in
// projects whose `lib` is older (e.g. ES2020), also with `skipLibCheck: false`.
const dtsPath = join(pkgDir, dts);
const declarations = readFileSync(dtsPath, 'utf8');
const libReference = '/// <reference lib="esnext.disposable" />';
if (declarations.includes('Symbol.dispose') && !declarations.includes(libReference)) {
  writeFileSync(dtsPath, `${libReference}\n${declarations}`);
}

// The JS glue repeats every doc comment that the .d.ts has, where editors read them; in the
// .js they are about a third of the gzipped size. Whole-line `/** ... */` and `//` comments
// go; the `/* @ts-self-types=... */` pragma stays. TypeScript's printer, with comments
// removed, must print the same program before and after: only comments changed.
const jsPath = join(pkgDir, js);
const glue = readFileSync(jsPath, 'utf8');
const stripped = glue
  .replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, '')
  .replace(/^[ \t]*\/\/.*\n/gm, '')
  .replace(/\n{3,}/g, '\n\n');
if (stripped !== glue) {
  const ts = createRequire(import.meta.url)('typescript');
  const program = (code) =>
    ts.transpileModule(code, {
      compilerOptions: {
        removeComments: true,
        target: ts.ScriptTarget.ESNext,
        module: ts.ModuleKind.ESNext,
      },
    }).outputText;
  if (program(stripped) !== program(glue)) fail(`stripping comments changed the code of ${js}`);
  writeFileSync(jsPath, stripped);
}

// wasm-bindgen puts JS snippets (inline_js / module imports) under snippets/. The glue imports
// them, so they ship; they are marked as having side effects, as wasm-pack does, since their
// top-level code is not ours to vouch for. The glue itself only defines classes and functions
// and creates its TextEncoder/TextDecoder and FinalizationRegistry objects: nothing outside
// the module changes until init() is called.
const hasSnippets = existsSync(join(pkgDir, 'snippets'));

const manifest = {
  name: 'resumable-downloads',
  version: cargoVersion(),
  description: generated.description,
  license: 'MIT',
  repository: generated.repository,
  keywords: generated.keywords,
  type: 'module',
  main: `./${js}`,
  module: `./${js}`,
  types: `./${dts}`,
  exports: {
    '.': { types: `./${dts}`, default: `./${js}` },
    [`./${wasm}`]: { types: `./${wasmDts}`, default: `./${wasm}` },
    './package.json': './package.json',
  },
  files: [js, dts, wasm, wasmDts, 'README.md', 'LICENSE', ...(hasSnippets ? ['snippets/'] : [])],
  sideEffects: hasSnippets ? ['./snippets/*'] : false,
};
for (const k of Object.keys(manifest)) if (manifest[k] === undefined) delete manifest[k];

writeFileSync(generatedPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`finalized ${generatedPath}: ${manifest.name}@${manifest.version}`);
