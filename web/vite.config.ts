/**
 * Build of the browser pages (join page and console). Output: dist/web/pages, served under /web/ by
 * src/web/plugin.ts; the HTML entry points are served at /join/:type/:id and /console.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/web/',
  publicDir: false,
  build: {
    // dist/web itself holds the compiled server plugin (src/web -> dist/web), so the pages go below it.
    outDir: resolve(root, '../dist/web/pages'),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        join: resolve(root, 'join.html'),
        console: resolve(root, 'console.html'),
        watch: resolve(root, 'watch.html'),
      },
    },
  },
});
