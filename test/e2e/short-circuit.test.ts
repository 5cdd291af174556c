import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { RELEASE_CHUNK, type ReleasingReadable } from '../../src/core/buffer-pool.js';
import type { PageLocation } from '../../src/core/page-location.js';
import { collect } from '../../src/worker/file-system.js';
import { clusterToken, type RunningWorker, startWorker, workerMounts } from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { metric, tempDir, waitFor } from '../helpers/local-process.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Short-circuit reads and the client metadata cache against real worker processes on this host:
 * etcd, two `strata worker`s with a disk tier, and three clients — A (short-circuit, a 60 s
 * lease, so only the owner's push can make it see a change in time), B (another client, the
 * writer) and R (RPC only, the reference bytes).
 */
describe('short-circuit reads and the client metadata cache (etcd + 2 workers)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  let a: ClusterFileSystem;
  let b: ConnectedFileSystem;
  let r: ConnectedFileSystem;
  let token: string;

  before(async () => {
    tmp = await tempDir('short-circuit');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    etcd = await startEtcd();
    for (let i = 0; i < 2; i++)
      workers.push(await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', '2s']));
    const connected = await connect(etcd.uri, { metadataLeaseMs: 60_000 });
    assert.ok(connected instanceof ClusterFileSystem);
    a = connected;
    b = await connect(etcd.uri);
    r = await connect(etcd.uri, { shortCircuit: false, metadataLeaseMs: 0 });
    await waitFor('2 workers in every ring', async () =>
      [a, b, r].every((c) => c.location('/x').length === 2),
    );
    await b.mount('/sc', pathToFileURL(ufs).toString());
    token = await clusterToken(etcd.uri);
    await waitFor('mount on every worker', async () => {
      for (const w of workers)
        if (!(await workerMounts(w.ready.addresses.worker, token)).includes('/sc')) return false;
      return true;
    });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await r?.close();
    for (const w of workers) await w.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp?.cleanup();
  });

  /** Read RPCs served by all workers so far. */
  async function readRpcs(): Promise<number> {
    let n = 0;
    for (const w of workers)
      n += await metric(w.ready.addresses.admin, 'strata_rpc_request_duration_seconds_count', {
        route: 'read',
      });
    return n;
  }

  /** The owner's answer to GET locate, asked directly. */
  async function locate(path: string): Promise<PageLocation> {
    const owner = a.location(path)[0]!;
    const res = await fetch(`${owner.address}/rpc/v1/locate?path=${encodeURIComponent(path)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as PageLocation;
  }

  /** Writes a file through B and waits until A's stream to its owner is up and its pages are on disk. */
  async function seed(path: string, body: Buffer): Promise<void> {
    await b.write(path, Readable.from([body]), { size: body.length });
    await waitFor(`${path} on the owner's disk`, async () => {
      const loc = await locate(path);
      const pages = Math.ceil(body.length / loc.pageSize);
      return loc.files?.length === pages && loc.files.every((f) => f !== null);
    });
    const owner = a.location(path)[0]!.id;
    await waitFor("A's change stream to the owner open", async () => {
      await a.status(path);
      return a.fastPathStats().streamsTo.includes(owner);
    });
  }

  test('a co-located read gives the bytes of the RPC read without any read RPC', async () => {
    const path = '/sc/same.bin';
    const body = randomBytes(2 * MiB + 12_345);
    await seed(path, body);
    const before = await readRpcs();
    const stats0 = a.fastPathStats();
    const ownerAdmin = workers.find((w) => w.ready.id === a.location(path)[0]!.id)!.ready.addresses.admin;
    const hitBytes = () => metric(ownerAdmin, 'strata_cache_hit_bytes_total', { mount: '/sc' });
    const hits0 = await hitBytes();
    const whole = await collect(await a.read(path));
    const middle = await collect(await a.read(path, { offset: MiB - 7, length: MiB + 100 }));
    const small = await a.readBuffer(path, { offset: 2 * MiB - 10, length: 4096 });
    assert.equal(await readRpcs(), before, 'the short-circuit reads must not call the read RPC');
    const stats1 = a.fastPathStats();
    assert.equal(stats1.shortCircuitReads - stats0.shortCircuitReads, 3);
    assert.equal(stats1.shortCircuitFallbacks, stats0.shortCircuitFallbacks);
    // The bytes A read itself count as the owner's cache hits once reported.
    await a.flushShortCircuitHits();
    assert.equal((await hitBytes()) - hits0, body.length + (MiB + 100) + 4096);
    const reference = await collect(await r.read(path));
    assert.ok((await readRpcs()) > before, 'the reference read goes over the RPC');
    assert.equal(sha(whole), sha(body));
    assert.equal(sha(reference), sha(body));
    assert.deepEqual(middle, body.subarray(MiB - 7, 2 * MiB + 93));
    assert.deepEqual(small, body.subarray(2 * MiB - 10, 2 * MiB + 4086));
    // A short read at the end, an empty one, and past the end (the RPC's error).
    assert.deepEqual(await a.readBuffer(path, { offset: body.length - 5, length: 100 }), body.subarray(-5));
    assert.equal((await a.readBuffer(path, { offset: body.length, length: 10 })).length, 0);
    await assert.rejects(a.readBuffer(path, { offset: body.length + 1, length: 10 }), {
      code: 'INVALID_RANGE',
    });
  });

  test('evicted pages (strata fs free through another client) fall back to the RPC, right bytes', async () => {
    const path = '/sc/evicted.bin';
    const body = randomBytes(3 * MiB);
    await seed(path, body);
    assert.equal(sha(await collect(await a.read(path))), sha(body)); // A now holds the page files
    await b.free(path);
    const before = await readRpcs();
    const stats0 = a.fastPathStats();
    assert.equal(sha(await collect(await a.read(path))), sha(body));
    assert.ok((await readRpcs()) > before, 'the read went over the RPC');
    assert.ok(a.fastPathStats().shortCircuitFallbacks > stats0.shortCircuitFallbacks);
    // The RPC read cached the pages again: once on disk, A reads them itself again.
    await waitFor('pages back on disk', async () => (await locate(path)).files?.every((f) => f !== null));
    const stats1 = a.fastPathStats();
    assert.deepEqual(await a.readBuffer(path, { offset: 10, length: 1000 }), body.subarray(10, 1010));
    assert.equal(a.fastPathStats().shortCircuitReads, stats1.shortCircuitReads + 1);
  });

  test('a page file moved away or damaged falls back to the RPC, right bytes', async () => {
    const path = '/sc/moved.bin';
    const body = randomBytes(3 * MiB - 1);
    await seed(path, body);
    assert.equal(sha(await collect(await a.read(path))), sha(body));
    const files = (await locate(path)).files!;
    // Page 1 leaves its place (as when it moves to another tier); page 2 gets a flipped byte.
    await rename(files[1]!, `${files[1]!}.moved`);
    const fh = await open(files[2]!, 'r+');
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, 32 + 1000);
    byte[0] = byte[0]! ^ 0xff;
    await fh.write(byte, 0, 1, 32 + 1000);
    await fh.close();
    const stats0 = a.fastPathStats();
    const before = await readRpcs();
    assert.equal(sha(await collect(await a.read(path))), sha(body), 'a moved page: the rest over the RPC');
    assert.deepEqual(
      await a.readBuffer(path, { offset: 2 * MiB + 5, length: 2000 }),
      body.subarray(2 * MiB + 5, 2 * MiB + 2005),
      'a damaged page is never served',
    );
    assert.ok((await readRpcs()) > before);
    assert.ok(a.fastPathStats().shortCircuitFallbacks >= stats0.shortCircuitFallbacks + 2);
  });

  test('the client metadata cache sees an overwrite made through another client', async (t) => {
    const path = '/sc/overwritten.bin';
    const first = randomBytes(MiB + 3);
    await seed(path, first);
    const old = await a.status(path);
    const hits0 = a.fastPathStats().cacheHits;
    assert.equal((await a.status(path)).fingerprint, old.fingerprint);
    assert.ok(a.fastPathStats().cacheHits > hits0, 'the second status came from the cache');
    assert.equal(sha(await collect(await a.read(path))), sha(first));
    const second = randomBytes(2 * MiB + 77);
    const started = performance.now();
    const written = await b.write(path, Readable.from([second]), { size: second.length });
    // A's lease is 60 s: only the owner's push can make A see the change within this deadline.
    const seen = await waitFor(
      'A sees the overwrite',
      async () => {
        const st = await a.status(path);
        return st.fingerprint === written.fingerprint ? st : undefined;
      },
      10_000,
    );
    const ms = performance.now() - started;
    t.diagnostic(`overwrite seen by the other client ${ms.toFixed(1)} ms after the write call began`);
    assert.equal(seen.size, second.length);
    assert.ok(a.fastPathStats().invalidations > 0, 'dropped by the pushed change');
    assert.equal(sha(await collect(await a.read(path))), sha(second));
    assert.deepEqual(
      await a.readBuffer(path, { offset: MiB, length: 4096 }),
      second.subarray(MiB, MiB + 4096),
    );
    // And a delete through B: A stops seeing the file.
    await b.delete(path);
    await waitFor('A sees the delete', async () =>
      a.status(path).then(
        () => false,
        (err: { code?: string }) => err.code === 'NOT_FOUND',
      ),
    );
  });

  test('streams whose consumer gives chunks back (as sendStream does) each get their own bytes', async () => {
    const one = randomBytes(6 * MiB + 99);
    const two = randomBytes(5 * MiB + 1);
    await seed('/sc/pool-one.bin', one);
    await seed('/sc/pool-two.bin', two);
    const before = await readRpcs();
    const stats0 = a.fastPathStats();
    // Copies each chunk out, yields to the other readers, then releases it: its buffer may serve
    // the next page of either stream at once.
    const drain = async (path: string, offset = 0): Promise<Buffer> => {
      const s: ReleasingReadable = await a.read(path, { offset });
      assert.equal(typeof s[RELEASE_CHUNK], 'function', 'a short-circuit stream lends pool buffers');
      const out: Buffer[] = [];
      for await (const c of s as AsyncIterable<Buffer>) {
        out.push(Buffer.from(c));
        await new Promise((ok) => setImmediate(ok));
        s[RELEASE_CHUNK]!(c);
      }
      return Buffer.concat(out);
    };
    const got = await Promise.all([
      drain('/sc/pool-one.bin'),
      drain('/sc/pool-two.bin'),
      drain('/sc/pool-one.bin', 3 * MiB + 5),
      drain('/sc/pool-two.bin', 17),
    ]);
    assert.equal(await readRpcs(), before, 'all four served from the page files');
    assert.equal(a.fastPathStats().shortCircuitReads - stats0.shortCircuitReads, 4);
    assert.equal(sha(got[0]!), sha(one));
    assert.equal(sha(got[1]!), sha(two));
    assert.equal(sha(got[2]!), sha(one.subarray(3 * MiB + 5)));
    assert.equal(sha(got[3]!), sha(two.subarray(17)));
  });
});
