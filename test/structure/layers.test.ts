import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkLayers, importsOf } from './layers.js';

// dist/test/structure → the repository's src/ (the check reads the TypeScript sources).
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src');

test('src/ imports only down the layers (core → ufs/cache/meta/registry/cluster → worker → client → gateway/fuse/cli → server)', async () => {
  const violations = await checkLayers(SRC);
  assert.deepEqual(
    violations.map((v) => `${v.file}:${v.line} → ${v.target}: ${v.reason}`),
    [],
  );
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-layers-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

test('the layer check catches a lower layer importing a higher one, peers, banned pairs and unplaced folders', async () => {
  const dir = await tree({
    'core/ok.ts': "import { x } from './local.js';\n",
    'core/local.ts': 'export const x = 1;\n',
    'worker/up.ts': "import type { Gateway } from '../gateway/s3/gateway.js';\n",
    'meta/peer.ts': "export { y } from '../cache/page-store.js';\n",
    'client/banned.ts': "const m = await import('../worker/file-system.js');\n",
    'server/top.ts': "import '../worker/file-system.js';\nimport '../client/types.js';\n",
    'newthing/x.ts': "import '../core/ok.js';\n",
  });
  try {
    const found = (await checkLayers(dir)).map((v) => `${v.file}:${v.line} ${v.reason}`).sort();
    assert.deepEqual(found, [
      'client/banned.ts:1 client may not import worker: clients reach workers over the RPC only, never in process',
      'meta/peer.ts:1 meta and cache are peers (layer 1)',
      'newthing/x.ts:1 folder src/newthing has no layer in LAYERS',
      'worker/up.ts:1 worker (layer 2) imports gateway (layer 4)',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('imports are read by the TypeScript scanner: type-only, re-exports and dynamic imports count, comments do not', () => {
  const specs = importsOf(
    [
      "import type { A } from './a.js';",
      "export * from './b.js';",
      "// import { c } from './not-an-import.js';",
      "const d = await import('./d.js');",
    ].join('\n'),
  ).map((i) => `${i.line}:${i.spec}`);
  assert.deepEqual(specs, ['1:./a.js', '2:./b.js', '4:./d.js']);
});
