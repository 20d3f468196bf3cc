// Builds the page into exactly three files with fixed names, which the
// gateway embeds: dist/index.html, dist/app.js and dist/app.css.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    cssCodeSplit: false,
    modulePreload: false,
    sourcemap: false,
    assetsInlineLimit: Number.MAX_SAFE_INTEGER,
    rollupOptions: {
      output: {
        entryFileNames: 'app.js',
        assetFileNames: 'app[extname]',
        inlineDynamicImports: true,
      },
    },
  },
  // `npm run dev`: the page from Vite, the API from `chatctl serve` on :8080
  // (or CHAT_API).
  // The Host header stays Vite's, so the WebSocket's Origin check passes and
  // upload URLs point back through this proxy.
  server: {
    proxy: {
      '/v1': { target: process.env.CHAT_API ?? 'http://127.0.0.1:8080', ws: true },
    },
  },
});
