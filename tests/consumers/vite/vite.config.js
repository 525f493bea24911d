import { defineConfig } from 'vite';

// `vite build` needs nothing for this package: its glue loads the .wasm with
// `new URL('resumable_downloads_bg.wasm', import.meta.url)`, which Vite emits as an asset.
// The dev server, though, pre-bundles dependencies into node_modules/.vite/deps, away from the
// .wasm next to the glue; excluding the package serves it as shipped.
// The dev server forwards the fixture server's /file and /log (FIXTURE_URL), so that the check
// can download from the page's own origin, as run.mjs's server does for the built app.
//
// The build has three entries: the check (index.html), the background-mode page
// (background.html, whose src/background.js is copied from the plain consumer) and the site's
// service worker (src/sw.js), emitted unhashed as dist/sw.js so that the page can register
// it at the site's root; it imports its shared chunks as a module service worker does.
const fixture = process.env.FIXTURE_URL;
export default defineConfig({
  optimizeDeps: {
    exclude: ['resumable-downloads'],
  },
  // A module worker that imports the package (src/worker.js) is bundled as an ES module, as
  // the package's own storage worker is.
  worker: { format: 'es' },
  server: fixture ? { proxy: { '/file': fixture, '/log': fixture } } : {},
  build: {
    rollupOptions: {
      input: { main: 'index.html', background: 'background.html', sw: 'src/sw.js' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
