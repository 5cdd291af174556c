import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { collect } from '../../src/worker/file-system.js';
import { clusterToken, type RunningWorker, startWorker, workerMounts } from '../helpers/cluster.js';
import { startEtcd } from '../helpers/etcd.js';
import { metric, runCli, tempDir, waitFor } from '../helpers/local-process.js';

const FILES = 40;
const SIZE = 256 * 1024 + 17;

interface Etcd {
  uri: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

describe('a cluster: etcd + 3 workers + clients', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: Etcd;
  const workers: RunningWorker[] = [];
  let fs: ConnectedFileSystem;
  const digests = new Map<string, string>();
  let ufs: string;

  const workerArgs = (i: number) => [
    '--data-dir',
    join(tmp.dir, `w${i}`),
    '--lease-ttl',
    '2s',
    '--drain-timeout',
    '2s',
  ];

  before(async () => {
    tmp = await tempDir('cluster');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'data'), { recursive: true });
    for (let i = 0; i < FILES; i++) {
      const body = randomBytes(SIZE);
      await writeFile(join(ufs, 'data', `f${i}.bin`), body);
      digests.set(`/lake/data/f${i}.bin`, createHash('sha256').update(body).digest('hex'));
    }
    etcd = await startEtcd();
    for (let i = 0; i < 3; i++) workers.push(await startWorker(etcd.uri, workerArgs(i)));
    fs = await connect(etcd.uri);
    await waitFor('3 workers in the ring', async () => (await fs.report()).workers.length === 3);
    await fs.mount('/lake', pathToFileURL(ufs).toString(), { fallbackToUfs: true });
    // Every worker learns the mount through the registry watch.
    const token = await clusterToken(etcd.uri);
    await waitFor('mount on every worker', async () => {
      for (const w of workers)
        if (!(await workerMounts(w.ready.addresses.worker, token)).includes('/lake')) return false;
      return true;
    });
    // Every call needs the cluster token the first worker put in the registry.
    const anonymous = await fetch(`${workers[0]!.ready.addresses.worker}/rpc/v1/mounts`);
    assert.equal(anonymous.status, 401);
  });

  after(async () => {
    await fs?.close();
    for (const w of workers) await w.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp?.cleanup();
  });

  async function readAndCheck(path: string): Promise<void> {
    const body = await collect(await fs.read(path));
    assert.equal(
      createHash('sha256').update(body).digest('hex'),
      digests.get(path),
      `wrong bytes for ${path}`,
    );
  }

  test('files spread over all workers; each path has one primary owner', async () => {
    for (const path of digests.keys()) await readAndCheck(path);
    const perWorker = await Promise.all(
      workers.map((w) => metric(w.ready.addresses.admin, 'strata_ufs_read_bytes_total', { mount: '/lake' })),
    );
    for (const bytes of perWorker) assert.ok(bytes > 0, `every worker served some files: ${perWorker}`);
    assert.equal(
      perWorker.reduce((a, b) => a + b, 0),
      FILES * SIZE,
      'each file read from the store once, by its owner',
    );
    // Each file is cached on its own owner; the listing (from the directory's owner) shows that.
    const ls = await runCli(['fs', 'ls', '--json', '/lake/data'], { registry: etcd.uri });
    assert.equal(ls.code, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as Array<{ name: string; cachedPercent: number }>;
    assert.equal(listed.length, FILES);
    assert.ok(
      listed.every((e) => e.cachedPercent === 100),
      JSON.stringify(listed.filter((e) => e.cachedPercent !== 100).slice(0, 3)),
    );
    const loc = await runCli(['fs', 'location', '/lake/data/f0.bin'], { registry: etcd.uri });
    assert.equal(loc.code, 0, loc.stderr);
    const lines = loc.stdout.trim().split('\n');
    assert.ok(lines.length >= 1 && lines.length <= 3);
    const report = await runCli(['report', '--json'], { registry: etcd.uri });
    assert.equal(report.code, 0, report.stderr);
    const parsed = JSON.parse(report.stdout) as { workers: Array<{ id: string; state: string }> };
    assert.equal(parsed.workers.length, 3);
    assert.ok(parsed.workers.every((w) => w.state === 'ACTIVE'));
  });

  test('kill -9 of one worker under read load: 0 failed reads, 0 wrong bytes; it restarts and rejoins', async () => {
    let reads = 0;
    let failures = 0;
    const errors: string[] = [];
    let stop = false;
    const paths = [...digests.keys()];
    const load = Array.from({ length: 4 }, async (_, k) => {
      let i = k;
      while (!stop) {
        const path = paths[i++ % paths.length]!;
        try {
          await readAndCheck(path);
          reads++;
        } catch (err) {
          failures++;
          errors.push(String(err));
        }
      }
    });
    await waitFor('reads under way before the kill', async () => reads >= 8);
    const victim = workers[1]!;
    await victim.kill();
    // Its 2 s lease expires and the ring drops it; then reads must go on against the new ring.
    await waitFor('the ring without the killed worker', async () => (await fs.report()).workers.length === 2);
    const readsAtDrop = reads;
    await waitFor('reads on the ring without it', async () => reads >= readsAtDrop + 8 || failures > 0);
    stop = true;
    await Promise.all(load);
    assert.equal(failures, 0, `failed reads: ${errors.slice(0, 3).join('; ')}`);
    assert.ok(reads > 20, `reads went on (${reads})`);
    workers[1] = await startWorker(etcd.uri, workerArgs(1));
    await waitFor(
      'worker rejoined',
      async () => (await fs.report()).workers.filter((w) => w.state === 'ACTIVE').length === 3,
    );
    for (const path of paths) await readAndCheck(path);
  });

  test('etcd stopped: reads go on with the last known ring, and membership recovers', async () => {
    await etcd.kill();
    const started = Date.now();
    let reads = 0;
    const paths = [...digests.keys()];
    const outageMs = Number(process.env.STRATA_TEST_ETCD_OUTAGE_MS ?? 30_000);
    while (Date.now() - started < outageMs) {
      await readAndCheck(paths[reads % paths.length]!);
      reads++;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(reads > 10);
    await etcd.restart();
    await waitFor(
      'workers registered again',
      async () => (await fs.report()).workers.filter((w) => w.state === 'ACTIVE').length === 3,
      30_000,
    );
    for (const path of paths.slice(0, 5)) await readAndCheck(path);
  });

  test('SIGTERM drains a worker: it leaves the ring and reads keep working', async () => {
    const leaving = workers[2]!;
    assert.equal(await leaving.stop(), 0);
    await waitFor('ring without the drained worker', async () => (await fs.report()).workers.length === 2);
    for (const path of [...digests.keys()].slice(0, 10)) await readAndCheck(path);
    workers[2] = await startWorker(etcd.uri, workerArgs(2));
  });
});
