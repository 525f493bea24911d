import { defineConfig } from 'vite';

// `vite build` needs nothing for this package: its glue loads the .wasm with
// `new URL('resumable_downloads_bg.wasm', import.meta.url)`, which Vite emits as an asset.
// The dev server, though, pre-bundles dependencies into node_modules/.vite/deps, away from the
// .wasm next to the glue; excluding the package serves it as shipped.
export default defineConfig({
  optimizeDeps: {
    exclude: ['resumable-downloads'],
  },
});
