import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isStrataError } from '../../src/core/errors.js';
import { REGISTRY_CONTRACT, type RegistryContractContext, workerInfo } from '../../src/registry/contract.js';
import { EmbeddedRegistry, EmbeddedWorkerRegistration } from '../../src/registry/embedded-registry.js';
import { EtcdRegistry, parseEtcdUri } from '../../src/registry/etcd-registry.js';
import { createRegistry } from '../../src/registry/factory.js';
import type { WorkerInfo } from '../../src/registry/registry.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const figures: string[] = [];
function measure(impl: string) {
  return (metric: string, ms: number) => figures.push(`${impl}: ${metric} = ${ms.toFixed(1)}`);
}

after(() => {
  for (const f of figures) console.log(`# figure ${f}`);
});

describe('embedded registry: contract', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-registry-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const c of REGISTRY_CONTRACT) {
    test(c.name, async () => {
      const dir = join(root, randomBytes(4).toString('hex'));
      const registry = new EmbeddedRegistry(dir);
      await registry.open();
      const ctx: RegistryContractContext = {
        registry,
        async crashWorker(info, leaseTtlMs) {
          const reg = await registry.registerWorker(info, { leaseTtlMs });
          assert.ok(reg instanceof EmbeddedWorkerRegistration);
          reg.stopKeepAlive();
        },
        async reopen() {
          const again = new EmbeddedRegistry(dir);
          await again.open();
          return again;
        },
        measure: measure('embedded'),
      };
      try {
        await c.run(ctx);
      } finally {
        await registry.close();
      }
    });
  }
});

describe('embedded registry: specifics', () => {
  test('mounts.json is the persisted table; onLost fires when the lease expires', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-registry-'));
    try {
      const registry = new EmbeddedRegistry(dir, { leaseTtlMs: 300 });
      await registry.open();
      await registry.saveMount({
        path: '/m',
        uri: 'file:///x',
        readOnly: true,
        syncIntervalMs: 0,
        writeType: 'THROUGH',
        options: {},
      });
      const file = JSON.parse(await readFile(join(dir, 'mounts.json'), 'utf8')) as {
        mounts: { path: string }[];
      };
      assert.deepEqual(
        file.mounts.map((m) => m.path),
        ['/m'],
      );
      // The lease's keepalive and expiry are timers: fake ones, so "several TTLs pass" is exact,
      // however slow the machine (a real 1 s sleep could also stall past a 300 ms TTL).
      t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
      const reg = await registry.registerWorker(workerInfo('w'));
      assert.ok(reg instanceof EmbeddedWorkerRegistration);
      let lost: unknown;
      reg.onLost = (err) => {
        lost = err;
      };
      // With keepalive running (every TTL/3) the lease outlives several TTLs.
      for (let ms = 0; ms < 1000; ms += 50) t.mock.timers.tick(50);
      assert.equal(lost, undefined, 'the lease expired although keepalive ran');
      assert.deepEqual(
        (await registry.listWorkers()).map((w) => w.id),
        ['w'],
      );
      reg.stopKeepAlive();
      t.mock.timers.tick(299);
      assert.equal(lost, undefined, 'the lease expired before its TTL');
      assert.deepEqual(
        (await registry.listWorkers()).map((w) => w.id),
        ['w'],
      );
      t.mock.timers.tick(1);
      assert.ok(isStrataError(lost, 'UNAVAILABLE'), `onLost got ${String(lost)}`);
      assert.deepEqual(await registry.listWorkers(), []);
      t.mock.timers.reset();
      await registry.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('registry factory', () => {
  test('embedded, embedded:///dir, etcd:// and unknown schemes', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata registry '));
    try {
      const a = await createRegistry('embedded', { dataDir: dir });
      assert.ok(a instanceof EmbeddedRegistry);
      await a.setConfig('x', '1');
      await a.close();
      const b = await createRegistry(a.uri, {});
      assert.equal(await b.getConfig('x'), '1', `${a.uri} reopens the same files`);
      await b.close();
      await assert.rejects(createRegistry('embedded', {}), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(createRegistry('zookeeper://h:1', {}), { code: 'INVALID_URI' });
      await assert.rejects(createRegistry('nonsense', {}), { code: 'INVALID_URI' });
      await assert.rejects(createRegistry('etcd://no-port', {}), { code: 'INVALID_URI' });
      assert.deepEqual(parseEtcdUri('etcd://10.0.0.1:2379,h2:2380/team/'), {
        hosts: ['http://10.0.0.1:2379', 'http://h2:2380'],
        prefix: '/team/',
        tls: false,
      });
      assert.deepEqual(parseEtcdUri('etcds://10.0.0.1:2379'), {
        hosts: ['https://10.0.0.1:2379'],
        prefix: undefined,
        tls: true,
      });
      // Nothing listens on port 1: UNAVAILABLE, not a hang (which the test timeout would catch).
      const t0 = performance.now();
      await assert.rejects(createRegistry('etcd://127.0.0.1:1', { callTimeoutMs: 1500 }), {
        code: 'UNAVAILABLE',
      });
      figures.push(
        `etcd: open against a closed port failed after (ms) = ${(performance.now() - t0).toFixed(0)}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('etcd registry', () => {
  let etcd: EtcdProcess;
  const children = new Set<ChildProcess>();
  before(async () => {
    etcd = await startEtcd();
    figures.push(`etcd: startup until /health is true (ms) = ${etcd.startupMs.toFixed(0)}`);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await etcd?.stop();
  });

  /** A worker in a child process that is SIGKILLed right after registering. */
  async function crashInChild(prefix: string, info: WorkerInfo, leaseTtlMs: number): Promise<void> {
    const child = spawn(
      process.execPath,
      [join(here, 'crash-child.js'), etcd.uri, prefix, JSON.stringify(info), String(leaseTtlMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.add(child);
    await new Promise<void>((ok, fail) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('registered')) ok();
      });
      child.once('exit', (code) => fail(new Error(`crash child exited with ${code} before registering`)));
    });
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
  }

  describe('contract', () => {
    for (const c of REGISTRY_CONTRACT) {
      test(c.name, async () => {
        // A fresh prefix per case: each case starts from an empty registry.
        const prefix = `/strata-test-${randomBytes(4).toString('hex')}/`;
        const registry = new EtcdRegistry(etcd.uri, { prefix });
        await registry.open();
        const ctx: RegistryContractContext = {
          registry,
          crashWorker: (info, ttl) => crashInChild(prefix, info, ttl),
          async reopen() {
            const again = new EtcdRegistry(etcd.uri, { prefix });
            await again.open();
            return again;
          },
          measure: measure('etcd'),
        };
        try {
          await c.run(ctx);
        } finally {
          await registry.close();
        }
      });
    }
  });

  test('a prefix given in the URI scopes every key', async () => {
    const a = await createRegistry(`${etcd.uri}/tenant-a/`, {});
    const b = await createRegistry(`${etcd.uri}/tenant-b/`, {});
    try {
      await a.setConfig('k', 'a');
      assert.equal(await b.getConfig('k'), undefined);
      assert.equal(await a.getConfig('k'), 'a');
    } finally {
      await a.close();
      await b.close();
    }
    // A closed registry fails cleanly instead of crashing or hanging.
    await assert.rejects(a.getConfig('k'), { code: 'UNAVAILABLE' });
    await assert.rejects(a.registerWorker(workerInfo('late')), { code: 'UNAVAILABLE' });
  });

  test('etcd down: calls fail with UNAVAILABLE within the deadline; registration and watches recover', {
    timeout: 180_000,
  }, async () => {
    const prefix = `/strata-outage-${randomBytes(4).toString('hex')}/`;
    const callTimeoutMs = 2000;
    const registry = new EtcdRegistry(etcd.uri, { prefix, callTimeoutMs, leaseTtlMs: 2000 });
    const observer = new EtcdRegistry(etcd.uri, { prefix, callTimeoutMs });
    await registry.open();
    await observer.open();
    try {
      // A frozen etcd (SIGSTOP) accepts connections but never answers: only the deadline ends the
      // call, so the outcome is the deadline's error. (Before the worker registers: a freeze as
      // long as its TTL could cost it its lease, which is the next part's business.)
      process.kill(etcd.pid, 'SIGSTOP');
      try {
        await waitStopped(etcd.pid);
        const t0 = performance.now();
        await assert.rejects(registry.getConfig('k'), (err: unknown) => {
          assert.ok(isStrataError(err, 'UNAVAILABLE'), String(err));
          assert.match(err.message, /did not answer get config within 2000 ms|deadline/i);
          return true;
        });
        figures.push(
          `etcd: getConfig against a frozen etcd failed after (ms) = ${(performance.now() - t0).toFixed(0)}`,
        );
      } finally {
        process.kill(etcd.pid, 'SIGCONT');
      }

      const reg = await waitFor(() => registry.registerWorker(workerInfo('w-outage')), {
        what: 'registering after the freeze',
        retryErrors: true,
      });
      const lostErrors: unknown[] = [];
      reg.onLost = (err) => lostErrors.push(err);
      const workerSnaps: WorkerInfo[][] = [];
      const mountSnaps: string[][] = [];
      const unwatchW = await observer.watchWorkers((ws) => workerSnaps.push(ws));
      const unwatchM = await observer.watchMounts((ms) => mountSnaps.push(ms.map((m) => m.path)));
      assert.deepEqual(
        workerSnaps.at(-1)?.map((w) => w.id),
        ['w-outage'],
      );
      const workerKey = `${prefix}workers/w-outage`;
      const oldLease = await leaseOf(etcd.clientUrl, workerKey);
      assert.ok(oldLease !== undefined, 'the worker key is on a lease');

      await etcd.kill();
      const downAt = performance.now();
      for (const [name, call] of [
        ['listWorkers', () => registry.listWorkers()],
        ['setConfig', () => registry.setConfig('k', 'v')],
        ['leader', () => registry.leader('scheduler')],
      ] as const) {
        const t0 = performance.now();
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(isStrataError(err, 'UNAVAILABLE'), `${name}: ${String(err)}`);
          assert.ok(err.cause !== undefined || /did not answer/.test(err.message), `${name} keeps the cause`);
          return true;
        });
        figures.push(
          `etcd: ${name} while etcd is down failed after (ms) = ${(performance.now() - t0).toFixed(0)}`,
        );
      }
      // Down until the registration has noticed: a TTL without a renewal loses the lease (onLost).
      await waitFor(() => lostErrors.length > 0, { what: 'onLost while etcd is down', timeoutMs: 30_000 });
      figures.push(`etcd: onLost after etcd went down (ms) = ${(performance.now() - downAt).toFixed(0)}`);
      await etcd.restart();
      const upAt = performance.now();

      // The handle registers again, on a new lease.
      const newLease = await waitFor(
        async () => {
          const lease = await leaseOf(etcd.clientUrl, workerKey);
          return lease !== undefined && lease !== oldLease ? lease : undefined;
        },
        { what: 'the worker registered again on a new lease', timeoutMs: 30_000, retryErrors: true },
      );
      figures.push(
        `etcd: registered again on a new lease after restart (ms) = ${(performance.now() - upAt).toFixed(0)}; onLost calls = ${lostErrors.length}`,
      );
      for (const e of lostErrors) assert.ok(isStrataError(e, 'UNAVAILABLE'));
      // etcd restores the old lease on restart, but nobody renews it. Once etcd has expired it,
      // the worker must still be listed: it lives on the lease the handle re-registered with.
      await waitFor(async () => (await leaseTtl(etcd.clientUrl, oldLease)) === -1, {
        what: 'the pre-restart lease to expire',
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      assert.deepEqual(
        (await observer.listWorkers()).map((w) => w.id),
        ['w-outage'],
        'the registration vanished with the pre-restart lease',
      );
      assert.equal(await leaseOf(etcd.clientUrl, workerKey), newLease);
      assert.ok((await leaseTtl(etcd.clientUrl, newLease)) > 0, 'the new lease is alive');

      // Writes made after the restart reach the watchers that were created before it.
      const t0 = performance.now();
      await waitFor(
        async () => {
          await registry.saveMount({
            path: '/after-restart',
            uri: 'file:///x',
            readOnly: false,
            syncIntervalMs: -1,
            writeType: 'CACHE_THROUGH',
            options: {},
          });
          return true;
        },
        {
          what: 'saveMount to succeed after the restart',
          timeoutMs: 20_000,
          intervalMs: 200,
          retryErrors: true,
        },
      );
      await waitFor(() => mountSnaps.at(-1)?.includes('/after-restart'), {
        what: 'the mount watch to deliver the post-restart write',
        timeoutMs: 20_000,
      });
      assert.deepEqual(mountSnaps.at(-1), ['/after-restart'], 'the mount watch did not recover');
      figures.push(
        `etcd: mount watch saw a post-restart write after (ms) = ${(performance.now() - t0).toFixed(0)}`,
      );
      // An update of the worker record after the restart reaches the worker watch...
      await reg.update({ state: 'DRAINING' });
      await waitFor(() => workerSnaps.at(-1)?.find((w) => w.id === 'w-outage')?.state === 'DRAINING', {
        what: 'the worker watch to deliver the DRAINING update',
      });
      assert.equal((await observer.listWorkers())[0]?.state, 'DRAINING');
      // ...and so does the leave.
      await reg.close();
      await waitFor(() => workerSnaps.at(-1)?.length === 0, {
        what: 'the worker watch to see the leave after the restart',
      });
      unwatchW();
      unwatchM();
    } finally {
      await registry.close();
      await observer.close();
    }
  });
});

/** The lease a key is attached to (etcd's JSON gateway), or undefined when the key is absent. */
async function leaseOf(clientUrl: string, key: string): Promise<string | undefined> {
  const body = (await etcdJson(clientUrl, '/v3/kv/range', { key: Buffer.from(key).toString('base64') })) as {
    kvs?: Array<{ lease?: string }>;
  };
  return body.kvs?.[0]?.lease;
}

/** Seconds a lease has left; -1 once etcd has expired (or revoked) it. */
async function leaseTtl(clientUrl: string, lease: string): Promise<number> {
  const body = (await etcdJson(clientUrl, '/v3/lease/timetolive', { ID: lease })) as { TTL?: string };
  return Number(body.TTL ?? -1);
}

async function etcdJson(clientUrl: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${clientUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}`);
  return res.json();
}

/** SIGSTOP is asynchronous: wait until the kernel reports the process as stopped ("T"). */
async function waitStopped(pid: number): Promise<void> {
  await waitFor(async () => /^\d+ \(.*\) T /.test(await readFile(`/proc/${pid}/stat`, 'utf8')), {
    what: `etcd ${pid} to stop`,
    timeoutMs: 5_000,
    intervalMs: 10,
  });
}
