import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// base './' makes every asset URL relative, so the same build loads from file:// in Electron and from the
// browser twin's HTTP server.
export default defineConfig({
  root: here,
  base: './',
  plugins: [vue()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // Everything ships as files next to index.html: the CSP forbids data: scripts and inline styles.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
  },
});
