// Bundles src/ into ../static/tracker.js (iife, minified, the /*! line kept).
//   node tracker/build.mjs          write the build
//   node tracker/build.mjs --check  exit 1 when static/tracker.js is not the build of src/
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'static', 'tracker.js');

const result = await esbuild.build({
  entryPoints: [join(here, 'src', 'index.js')],
  bundle: true,
  format: 'iife',
  minify: true,
  legalComments: 'none',
  banner: { js: readFileSync(join(here, 'src', 'index.js'), 'utf8').match(/\/\*![^]*?\*\//)[0] },
  target: 'es2020',
  charset: 'utf8',
  // Internal property names of the modules' own objects (never a key of an event, a frame,
  // ck('state') or a browser API) are shortened too.
  mangleProps: new RegExp('^(' + ['mine', 'take', 'seal', 'read', 'ready', 'ids', 'owns', 'scan',
    'beat', 'release', 'live', 'prev', 'boot', 'sent', 'pump', 'beacon', 'online', 'store', 'tabs',
    'counts', 'onSeal', 'onOwn', 'newId', 'ses', 'cfg', 'LS', 'track', 'WS', 'onAck', 'timers',
    'attr', 'maxQueued', 'dnt', 'batch', 'useHttp', 'sock'].join('|') + ')$'),
  write: false,
});
const built = result.outputFiles[0].text;
let current = '';
try {
  current = readFileSync(out, 'utf8');
} catch (e) { /* no build yet */ }

if (process.argv.includes('--check')) {
  if (current !== built) {
    console.error('static/tracker.js is stale: rebuild it with `npm run build --prefix tracker`');
    process.exit(1);
  }
  console.log('static/tracker.js is the build of tracker/src');
} else {
  writeFileSync(out, built);
  const gz = gzipSync(Buffer.from(built), { level: 9 }).length;
  console.log(`wrote static/tracker.js (${built.length} bytes, ${gz} gzipped)`);
}
