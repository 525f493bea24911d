#!/usr/bin/env node
// Opens tests/package/index.html (entry.js), with the installed package beside it, in every
// engine (tests/consumers/browser.mjs; ENGINES narrows them), waits for its verdict, and compares the option names the package's parser accepts
// (which the page reports) with the properties of the option interfaces in the shipped .d.ts.
//
//   node tests/package/run.mjs DIR FIXTURE_URL
//
// DIR holds index.html, entry.js and node_modules/resumable-downloads. Exits 0 only when the
// page says 'ok' and every option list matches.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachEngine, serve } from '../consumers/browser.mjs';

const [dir, fixture] = process.argv.slice(2);
if (!dir || !fixture) {
  console.error('usage: run.mjs DIR FIXTURE_URL');
  process.exit(2);
}
const ts = createRequire(import.meta.url)('typescript');

// The property names of the object types the .d.ts gives for each option object.
function declaredOptions(dtsPath) {
  const file = ts.createSourceFile(dtsPath, readFileSync(dtsPath, 'utf8'), ts.ScriptTarget.Latest);
  const interfaces = new Map();
  file.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node.members);
  });
  const names = (members) => members.map((m) => m.name.getText(file)).sort();
  const member = (iface, name) => interfaces.get(iface).find((m) => m.name.getText(file) === name);
  const literal = (type) =>
    ts.isUnionTypeNode(type) ? type.types.find(ts.isTypeLiteralNode) : ts.isTypeLiteralNode(type) ? type : undefined;
  return {
    open: names(interfaces.get('ManagerOptions')),
    timeouts: names(interfaces.get('TimeoutOptions')),
    retry: names(interfaces.get('RetryOptions')),
    notifyWhenDone: names(literal(member('ManagerOptions', 'notifyWhenDone').type).members),
    add: names(interfaces.get('AddOptions')),
  };
}

const site = await serve(dir);
const declared = declaredOptions(join(dir, 'node_modules/resumable-downloads/resumable_downloads.d.ts'));
try {
  await forEachEngine(120_000, async (browser, check) => {
    const page = await browser.newPage(`${site.origin}/index.html?fixture=${encodeURIComponent(fixture)}`);
    await page.waitFor(() => document.body?.dataset.result, null, 'the page\'s verdict', { timeout: 90_000, polling: 100 });
    const { result, text, options } = await page.evaluate(() => ({
      result: document.body.dataset.result,
      text: document.body.innerText.trim(),
      options: document.body.dataset.options ?? null,
    }));
    console.log(text.split('\n').map((l) => `   ${l}`).join('\n'));
    check(result === 'ok', 'entry points before and after init(), cause, constructors');
    check(options !== null, 'the page reported the accepted option names');
    if (options !== null) {
      for (const [what, names] of Object.entries(JSON.parse(options))) {
        const same = names.join() === declared[what].join();
        check(same, `${what} options: the parser accepts ${names.join(', ')}` +
          (same ? '; the .d.ts declares the same' : `; the .d.ts declares ${declared[what].join(', ')}`));
      }
    }
  });
} finally {
  site.close();
}
