// Builds {{name}}.wasm from src/plugin.js and the WIT contract in wit/.
//
// componentize-js embeds the JS engine (StarlingMonkey) with the source; it
// follows relative imports itself, so no bundler is needed while the plugin
// has no npm dependencies (bundle with esbuild first if you add some).
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

const { component } = await componentize({
  sourcePath: here('src/plugin.js'),
  witPath: here('wit'),
  worldName: 'issuer',
  // The host links WASI's CLI interfaces (random, clocks, stdio), not
  // wasi:http: a component that imports it would not load.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(here('{{name}}.wasm'), component);
console.log(`wrote {{name}}.wasm (${component.length} bytes)`);
