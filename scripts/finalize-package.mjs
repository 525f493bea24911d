#!/usr/bin/env node
// Turns what wasm-pack writes into pkg/ into the published package:
// - the package.json: name, version (from Cargo.toml), license, entry points, an `exports` map
//   that lets bundlers resolve the .wasm, the list of shipped files, and `sideEffects`;
// - the entry module: wasm-bindgen's glue without its doc comments (the .d.ts keeps them),
//   its exports taken over by entry points that make `isDownloadError` work before `init()`,
//   every other call before `init()` fail with "call init() first", and `new` on the classes
//   fail (a manager comes from `DownloadManager.open()`, a download from `manager.add()`);
// - README.md (the package's own, docs/npm/README.md) and LICENSE.
//
// Usage: node scripts/finalize-package.mjs [pkgDir]   (default: pkg)

import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
copyFileSync(join(root, 'docs/npm/README.md'), join(pkgDir, 'README.md'));
copyFileSync(join(root, 'LICENSE'), join(pkgDir, 'LICENSE'));
// The service worker's part (`resumable-downloads/sw`), beside the entry module it imports.
copyFileSync(join(root, 'js/sw.js'), join(pkgDir, 'sw.js'));
copyFileSync(join(root, 'js/sw.d.ts'), join(pkgDir, 'sw.d.ts'));

const generated = JSON.parse(readFileSync(generatedPath, 'utf8'));

// wasm-bindgen declares `[Symbol.dispose](): void` on every class, which needs the
// `esnext.disposable` lib (TypeScript 5.2 or later). Referencing it from the declarations lets
// them type-check in projects whose `lib` is older (e.g. ES2020), also with
// `skipLibCheck: false`. That lib itself uses `Symbol.toStringTag` without referencing where
// it is declared, so a project whose `lib` is ES5 (what `tsc file.ts` without a tsconfig uses)
// also needs `es2015.symbol.wellknown`.
const dtsPath = join(pkgDir, dts);
const declarations = readFileSync(dtsPath, 'utf8');
const libReferences = ['es2015.symbol.wellknown', 'esnext.disposable']
  .map((lib) => `/// <reference lib="${lib}" />\n`)
  .join('');
if (declarations.includes('Symbol.dispose') && !declarations.startsWith(libReferences)) {
  writeFileSync(dtsPath, `${libReferences}${declarations.replace(/^(\/\/\/ <reference lib="[^"]*" \/>\n)+/, '')}`);
}

const jsPath = join(pkgDir, js);
const glue = readFileSync(jsPath, 'utf8');
// What this script appends to the glue starts with this line: a pkg/ finalized before (no
// wasm-pack run since) is left as it is.
const entryMarker = '// The entry points, in front of the glue above.';
if (!glue.includes(entryMarker)) writeFileSync(jsPath, await entryModule(glue));

// The JS glue repeats every doc comment that the .d.ts has, where editors read them; in the
// .js they are about a third of the gzipped size. Whole-line `/** ... */` and `//` comments
// go; the `/* @ts-self-types=... */` pragma stays. TypeScript's printer, with comments
// removed, must print the same program before and after: only comments changed.
function stripComments(code) {
  const stripped = code
    .replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, '')
    .replace(/^[ \t]*\/\/.*\n/gm, '')
    .replace(/\n{3,}/g, '\n\n');
  const ts = createRequire(import.meta.url)('typescript');
  const program = (c) =>
    ts.transpileModule(c, {
      compilerOptions: {
        removeComments: true,
        target: ts.ScriptTarget.ESNext,
        module: ts.ModuleKind.ESNext,
      },
    }).outputText;
  if (program(stripped) !== program(code)) fail(`stripping comments changed the code of ${js}`);
  return stripped;
}

// The published module is wasm-bindgen's glue with its exports taken over by a few entry
// points appended to it (one file, as before, so nothing about loading it changes): `init`
// and `initSync` record that the module is ready; `isDownloadError` is plain JS, so it works
// before `init()`; the classes are exported behind a Proxy that refuses `new` (a manager comes
// from `DownloadManager.open()`, a download from `manager.add()`) and, until `init()` has
// succeeded, makes their static methods fail with "call init() first" (a `DownloadError` with
// code INVALID_ARGUMENT; rejected for those that return a promise). Instances are the glue's
// own objects, so `instanceof` and the glue's internals are unchanged. The result is imported
// once here: its exports must be exactly the documented ones.
async function entryModule(code) {
  const locals = new Map(); // exported name -> local name in the glue
  let body = stripComments(code)
    .replace(/^export (class|function) (\w+)/gm, (_, kind, name) => {
      locals.set(name, name);
      return `${kind} ${name}`;
    })
    .replace(/^export \{([^}]*)\};?[ \t]*\n/gm, (_, list) => {
      for (const part of list.split(',')) {
        const [local, exported = local] = part.trim().split(/\s+as\s+/);
        if (local) locals.set(exported, local);
      }
      return '';
    });
  if (/^export\b/m.test(body)) fail(`${js} has an export this script does not understand`);
  const names = ['default', 'initSync', 'Download', 'DownloadManager'];
  const missing = names.filter((n) => !locals.has(n));
  if (missing.length) fail(`the glue no longer exports ${missing.join(', ')}`);
  const own = /\bentry[A-Z]\w*/.exec(body);
  if (own) fail(`the glue already uses the name ${own[0]}, which the entry points need`);
  // Static methods that return a promise (per the .d.ts): before init() they reject.
  const asyncStatics = [
    ...readFileSync(join(pkgDir, dts), 'utf8').matchAll(/^\s*static (\w+)\([^)]*\): Promise</gm),
  ].map((m) => m[1]);
  body += `
${entryMarker}
let entryReady = false;
let entryFailure;
function entryMisuse(message) {
  const e = new Error(message);
  e.name = 'DownloadError';
  e.code = 'INVALID_ARGUMENT';
  return e;
}
function entryNotReady() {
  const why = entryFailure === undefined ? '' : \` (init() failed: \${String(entryFailure)})\`;
  return entryMisuse(\`call init() first\${why}\`);
}
function entryInitialized(output) {
  entryReady = true;
  entryFailure = undefined;
  return output;
}
function entryFailed(e) {
  entryFailure = e;
  throw e;
}
function entryInit(moduleOrPath) {
  try {
    return ${locals.get('default')}(moduleOrPath).then(entryInitialized, entryFailed);
  } catch (e) {
    return Promise.reject(e).catch(entryFailed);
  }
}
function entryInitSync(module) {
  try {
    return entryInitialized(${locals.get('initSync')}(module));
  } catch (e) {
    return entryFailed(e);
  }
}
function entryIsDownloadError(value) {
  try {
    return typeof value === 'object' && value !== null && value.name === 'DownloadError' &&
      typeof value.code === 'string';
  } catch {
    return false;
  }
}
const entryAsyncStatics = ${JSON.stringify(asyncStatics)};
function entryGuarded(Class, how) {
  return new Proxy(Class, {
    construct() {
      throw entryMisuse(\`\${Class.name} has no public constructor: \${how}\`);
    },
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (entryReady || typeof value !== 'function' || typeof key !== 'string' || key.startsWith('__')) {
        return value;
      }
      return entryAsyncStatics.includes(key)
        ? () => Promise.reject(entryNotReady())
        : () => {
            throw entryNotReady();
          };
    },
  });
}
const entryManager = entryGuarded(${locals.get('DownloadManager')}, 'use DownloadManager.open()');
const entryDownload = entryGuarded(${locals.get('Download')}, 'downloads come from manager.add()');
export {
  entryInit as default,
  entryInitSync as initSync,
  entryIsDownloadError as isDownloadError,
  entryManager as DownloadManager,
  entryDownload as Download,
};
`;
  const probe = join(pkgDir, `.probe-${process.pid}.mjs`);
  writeFileSync(probe, body);
  try {
    const exported = Object.keys(await import(pathToFileURL(probe).href)).sort();
    const expected = ['Download', 'DownloadManager', 'default', 'initSync', 'isDownloadError'];
    if (exported.join() !== expected.join()) fail(`${js} exports ${exported.join(', ')}`);
  } finally {
    rmSync(probe);
  }
  return body;
}

// wasm-bindgen puts JS snippets (inline_js / module imports) under snippets/. The glue imports
// them, so they ship; they are marked as having side effects, as wasm-pack does, since their
// top-level code is not ours to vouch for. The glue itself only defines classes and functions
// and creates its TextEncoder/TextDecoder and FinalizationRegistry objects, and the entry
// module only defines functions and two Proxies: nothing outside them changes until init() is
// called.
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
    './sw': { types: './sw.d.ts', default: './sw.js' },
    [`./${wasm}`]: { types: `./${wasmDts}`, default: `./${wasm}` },
    './package.json': './package.json',
  },
  files: [js, dts, wasm, wasmDts, 'sw.js', 'sw.d.ts', 'README.md', 'LICENSE', ...(hasSnippets ? ['snippets/'] : [])],
  sideEffects: hasSnippets ? ['./snippets/**'] : false,
};
for (const k of Object.keys(manifest)) if (manifest[k] === undefined) delete manifest[k];

writeFileSync(generatedPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`finalized ${generatedPath}: ${manifest.name}@${manifest.version}`);
