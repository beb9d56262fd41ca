/**
 * Build of the browser pages (join page, console, watch page, the built-in layouts page) and of the
 * layout module. Output: dist/web/pages, served under /web/ by src/http/web.ts; the HTML entry
 * points are served at /join/:type/:id, /console, /watch/:type/:id and /layouts/builtin. The layout
 * module (web/src/sdk/layout.ts) is built by itself into one file, dist/web/pages/sdk/layout.js
 * (served as /sdk/layout.js, with its types as /sdk/layout.d.ts), so that layout apps on other
 * origins import a single module.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = resolve(root, '../dist/web/pages');

/** After the pages: the layout module as one ES module file, and its declarations beside it. */
function layoutModule(): Plugin {
  return {
    name: 'callcast-layout-module',
    apply: 'build',
    async closeBundle() {
      await build({
        configFile: false,
        logLevel: 'warn',
        publicDir: false,
        build: {
          outDir: resolve(outDir, 'sdk'),
          emptyOutDir: true,
          sourcemap: true,
          target: 'es2022',
          lib: { entry: resolve(root, 'src/sdk/layout.ts'), formats: ['es'], fileName: () => 'layout.js' },
        },
      });
      mkdirSync(resolve(outDir, 'sdk'), { recursive: true });
      copyFileSync(resolve(root, 'src/sdk/layout-api.ts'), resolve(outDir, 'sdk/layout.d.ts'));
    },
  };
}

export default defineConfig({
  root,
  base: '/web/',
  publicDir: false,
  plugins: [layoutModule()],
  build: {
    // dist/web itself holds the compiled server plugin (src/web -> dist/web), so the pages go below it.
    outDir,
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        join: resolve(root, 'join.html'),
        console: resolve(root, 'console.html'),
        watch: resolve(root, 'watch.html'),
        layout: resolve(root, 'layout.html'),
      },
    },
  },
});
