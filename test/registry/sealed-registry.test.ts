import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import type { MountRecord } from '../../src/core/mounts.js';
import { newSealKeyText, parseSealKey, type SealKey, seal, unseal } from '../../src/core/seal.js';
import { EmbeddedRegistry } from '../../src/registry/embedded-registry.js';
import { createRegistry } from '../../src/registry/factory.js';
import { SealedRegistry } from '../../src/registry/sealed-registry.js';
import { secretOptionsOf } from '../../src/ufs/factory.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

/** Issue 12, part 2: mount secrets are sealed at rest (AES-256-GCM) and come back real. */

const SECRETS = ['AKIA-SEALED-1', 'sk-sealed-2', 'st-sealed-3', 'Bearer hdr-sealed-4', 'pw-sealed-5'];

const S3_RECORD: MountRecord = {
  path: '/lake',
  uri: 's3://bucket/prefix/',
  readOnly: false,
  syncIntervalMs: -1,
  writeType: 'CACHE_THROUGH',
  options: {
    endpoint: 'http://127.0.0.1:9',
    region: 'eu-west-1',
    accessKeyId: 'AKIA-SEALED-1',
    secretAccessKey: 'sk-sealed-2',
    sessionToken: 'st-sealed-3',
  },
  fallbackToUfs: false,
};

const HTTP_RECORD: MountRecord = {
  path: '/web',
  uri: 'http://alice:pw-sealed-5@127.0.0.1:9/base',
  readOnly: true,
  syncIntervalMs: 0,
  writeType: 'CACHE_THROUGH',
  options: { 'header.Authorization': 'Bearer hdr-sealed-4', timeoutMs: '5000' },
  fallbackToUfs: false,
};

function sealed(inner: EmbeddedRegistry | Awaited<ReturnType<typeof createRegistry>>, key: SealKey) {
  return new SealedRegistry(inner, { key, secretOptionsOf });
}

function assertNoSecret(text: string, where: string): void {
  for (const s of [...SECRETS, 'alice']) assert.ok(!text.includes(s), `${where} holds ${s}:\n${text}`);
}

/** The record as the worker made it: the names of its secret options ride along. */
function withNames(r: MountRecord): MountRecord {
  return { ...r, secretOptions: secretOptionsOf(r.uri, r.options) };
}

test('seal/unseal: round trip, and a wrong key, another record or a changed byte do not open', () => {
  const key = parseSealKey(newSealKeyText());
  const box = seal(key, '{"a":"secret"}', 'strata-mount\0/a');
  assert.match(box, /^v1\.[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  assert.ok(!box.includes('secret'));
  assert.equal(unseal(key, box, 'strata-mount\0/a'), '{"a":"secret"}');
  assert.notEqual(seal(key, '{"a":"secret"}', 'x'), seal(key, '{"a":"secret"}', 'x'), 'IV reused');
  const other = parseSealKey(newSealKeyText());
  assert.throws(() => unseal(other, box, 'strata-mount\0/a'), /another key/);
  assert.throws(() => unseal(key, box, 'strata-mount\0/b'), /authentication/);
  // The second-to-last character changed (decided by that character: choosing by the last one
  // left it unchanged once in 64 runs).
  const flipped = `${box.slice(0, -2)}${box.at(-2) === 'A' ? 'B' : 'A'}${box.slice(-1)}`;
  assert.throws(
    () => unseal(key, flipped, 'strata-mount\0/a'),
    (err: unknown) => isStrataError(err, 'INTERNAL'),
  );
  assert.throws(() => parseSealKey('short'), /32 bytes/);
});

describe('SealedRegistry over the embedded registry', () => {
  let root: string;
  const key = parseSealKey(newSealKeyText());

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-sealed-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('mounts.json holds no secret in clear; records come back with the real secrets, after a reopen too', async () => {
    const dir = join(root, 'a');
    const inner = new EmbeddedRegistry(dir);
    const registry = sealed(inner, key);
    await registry.open();
    await registry.saveMount(withNames(S3_RECORD));
    await registry.saveMount(withNames(HTTP_RECORD));
    const text = await readFile(join(dir, 'mounts.json'), 'utf8');
    assertNoSecret(text, 'mounts.json');
    assert.match(text, /"sealed": "v1\./);
    assert.match(text, /"region": "eu-west-1"/, 'plain options stay readable at rest');
    const [lake, web] = await registry.loadMounts();
    assert.deepEqual(lake?.options, S3_RECORD.options);
    assert.deepEqual(lake?.secretOptions, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
    assert.equal(web?.uri, HTTP_RECORD.uri);
    assert.deepEqual(web?.options, HTTP_RECORD.options);
    assert.equal(lake?.sealed, undefined, 'the box leaked out of the registry');
    await registry.close();

    const again = sealed(new EmbeddedRegistry(dir), key);
    await again.open();
    assert.deepEqual(
      (await again.loadMounts()).map((m) => m.options),
      [S3_RECORD.options, HTTP_RECORD.options].map((o) => Object.fromEntries(Object.entries(o).sort())),
    );
    await again.close();
  });

  test('a registry snapshot (watch) carries the real secrets; the HTTP view shows them masked', async () => {
    const dir = join(root, 'b');
    const inner = new EmbeddedRegistry(dir);
    const registry = sealed(inner, key);
    await registry.open();
    const seen: MountRecord[][] = [];
    const unwatch = await registry.watchMounts((m) => seen.push(m));
    await registry.saveMount(withNames(S3_RECORD));
    unwatch();
    assert.equal(seen.at(-1)?.[0]?.options.secretAccessKey, 'sk-sealed-2');
    const server = createServer((req, res) => {
      void inner.handle(req, res);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const port = (server.address() as AddressInfo).port;
      const body = await (await fetch(`http://127.0.0.1:${port}/registry/v1/mounts`)).text();
      assertNoSecret(body, '/registry/v1/mounts');
      const shown = (JSON.parse(body) as { mounts: Array<{ options: Record<string, string> }> }).mounts[0];
      assert.deepEqual(shown?.options, {
        accessKeyId: '****',
        endpoint: 'http://127.0.0.1:9',
        region: 'eu-west-1',
        secretAccessKey: '****',
        sessionToken: '****',
      });
    } finally {
      server.close();
      await registry.close();
    }
  });

  test('a record of the old format (secrets in clear, no names) loads, and sealStored rewrites it sealed', async () => {
    const dir = join(root, 'c');
    const legacy = { version: 1, mounts: [S3_RECORD, HTTP_RECORD] };
    const inner = new EmbeddedRegistry(dir);
    await inner.open();
    await writeFile(join(dir, 'mounts.json'), JSON.stringify(legacy, null, 2));
    const registry = sealed(new EmbeddedRegistry(dir), key);
    await registry.open();
    const loaded = await registry.loadMounts();
    assert.deepEqual(loaded[0]?.options, Object.fromEntries(Object.entries(S3_RECORD.options).sort()));
    assert.deepEqual(loaded[0]?.secretOptions, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
    assert.equal(loaded[1]?.uri, HTTP_RECORD.uri);
    assert.equal(await registry.sealStored(), 2);
    assert.equal(await registry.sealStored(), 0, 'sealing twice');
    assertNoSecret(await readFile(join(dir, 'mounts.json'), 'utf8'), 'mounts.json after sealStored');
    assert.deepEqual(
      (await registry.loadMounts()).map((m) => [
        m.uri,
        m.options.secretAccessKey ?? m.options['header.Authorization'],
      ]),
      [
        [S3_RECORD.uri, 'sk-sealed-2'],
        [HTTP_RECORD.uri, 'Bearer hdr-sealed-4'],
      ],
    );
    await registry.close();
  });

  test('another key, or a box moved to another record, does not open: loading fails naming the mount', async () => {
    const dir = join(root, 'd');
    const registry = sealed(new EmbeddedRegistry(dir), key);
    await registry.open();
    await registry.saveMount(withNames(S3_RECORD));
    await registry.close();
    const wrong = sealed(new EmbeddedRegistry(dir), parseSealKey(newSealKeyText()));
    await wrong.open();
    await assert.rejects(
      wrong.loadMounts(),
      (err: unknown) => isStrataError(err, 'INTERNAL') && /\/lake/.test(String(err)),
    );
    const seen: MountRecord[][] = [];
    (await wrong.watchMounts((m) => seen.push(m)))();
    assert.deepEqual(seen, [[]], 'a record that does not open is left out of snapshots');
    await wrong.close();

    const file = join(dir, 'mounts.json');
    const doc = JSON.parse(await readFile(file, 'utf8')) as { mounts: MountRecord[] };
    const moved = { ...doc.mounts[0]!, path: '/elsewhere' };
    await writeFile(file, JSON.stringify({ version: 1, mounts: [moved] }));
    const reopened = sealed(new EmbeddedRegistry(dir), key);
    await reopened.open();
    await assert.rejects(reopened.loadMounts(), /elsewhere/);
    await reopened.close();
  });
});

describe('SealedRegistry over etcd', () => {
  let etcd: EtcdProcess;

  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });

  test('the etcd mount record holds no secret in clear; another process watching gets the real ones', async () => {
    const key = parseSealKey(newSealKeyText());
    const rawA = await createRegistry(etcd.uri);
    const rawB = await createRegistry(etcd.uri);
    const a = sealed(rawA, key);
    const b = sealed(rawB, key);
    try {
      const seen: MountRecord[][] = [];
      const unwatch = await b.watchMounts((m) => seen.push(m));
      await a.saveMount(withNames(S3_RECORD));
      await a.saveMount(withNames(HTTP_RECORD));
      await waitFor(async () => seen.at(-1)?.length === 2, { what: 'the watch to deliver both mounts' });
      unwatch();
      const snapshot = seen.at(-1)!;
      assert.equal(snapshot[0]?.options.secretAccessKey, 'sk-sealed-2');
      assert.equal(snapshot[1]?.uri, HTTP_RECORD.uri);
      const stored = JSON.stringify(await rawA.loadMounts());
      assertNoSecret(stored, 'the etcd records');
      const res = await fetch(`${etcd.clientUrl}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({
          key: Buffer.from('/').toString('base64'),
          range_end: Buffer.from('0').toString('base64'),
        }),
      });
      const kvs = ((await res.json()) as { kvs?: Array<{ value: string }> }).kvs ?? [];
      assert.ok(kvs.length >= 2);
      assertNoSecret(kvs.map((kv) => Buffer.from(kv.value, 'base64').toString('utf8')).join('\n'), 'etcd');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
