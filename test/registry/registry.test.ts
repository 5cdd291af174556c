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
  test('mounts.json is the persisted table; onLost fires when the lease expires', async () => {
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
      const reg = await registry.registerWorker(workerInfo('w'));
      assert.ok(reg instanceof EmbeddedWorkerRegistration);
      const lost = new Promise<unknown>((ok) => {
        reg.onLost = ok;
      });
      // With keepalive running the lease outlives several TTLs.
      await new Promise((ok) => setTimeout(ok, 1000));
      assert.deepEqual(
        (await registry.listWorkers()).map((w) => w.id),
        ['w'],
      );
      reg.stopKeepAlive();
      const err = await lost;
      assert.ok(isStrataError(err, 'UNAVAILABLE'));
      assert.deepEqual(await registry.listWorkers(), []);
      await registry.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('registry factory', () => {
  test('embedded, embedded:///dir, etcd:// and unknown schemes', async () => {
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
      });
      // Nothing listens on port 1: UNAVAILABLE within the deadline, not a hang.
      const t0 = performance.now();
      await assert.rejects(createRegistry('etcd://127.0.0.1:1', { callTimeoutMs: 1500 }), {
        code: 'UNAVAILABLE',
      });
      assert.ok(performance.now() - t0 < 4000, `took ${performance.now() - t0} ms`);
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

  test('etcd down: calls fail with UNAVAILABLE within the deadline; registration and watches recover', async () => {
    const prefix = `/strata-outage-${randomBytes(4).toString('hex')}/`;
    const callTimeoutMs = 2000;
    const registry = new EtcdRegistry(etcd.uri, { prefix, callTimeoutMs, leaseTtlMs: 2000 });
    const observer = new EtcdRegistry(etcd.uri, { prefix, callTimeoutMs });
    await registry.open();
    await observer.open();
    try {
      const reg = await registry.registerWorker(workerInfo('w-outage'));
      const lostErrors: unknown[] = [];
      reg.onLost = (err) => lostErrors.push(err);
      const workerSnaps: string[][] = [];
      const mountSnaps: string[][] = [];
      const unwatchW = await observer.watchWorkers((ws) => workerSnaps.push(ws.map((w) => w.id)));
      const unwatchM = await observer.watchMounts((ms) => mountSnaps.push(ms.map((m) => m.path)));
      assert.deepEqual(workerSnaps.at(-1), ['w-outage']);

      // A frozen etcd (SIGSTOP) accepts connections but never answers: only the deadline ends the call.
      process.kill(etcd.pid, 'SIGSTOP');
      try {
        await waitStopped(etcd.pid);
        const t0 = performance.now();
        await assert.rejects(registry.getConfig('k'), { code: 'UNAVAILABLE' });
        const took = performance.now() - t0;
        figures.push(`etcd: getConfig against a frozen etcd failed after (ms) = ${took.toFixed(0)}`);
        assert.ok(took >= callTimeoutMs - 100 && took < callTimeoutMs + 1000, `took ${took} ms`);
      } finally {
        process.kill(etcd.pid, 'SIGCONT');
      }

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
        const took = performance.now() - t0;
        figures.push(`etcd: ${name} while etcd is down failed after (ms) = ${took.toFixed(0)}`);
        assert.ok(took < callTimeoutMs + 1000, `${name} took ${took} ms (deadline ${callTimeoutMs})`);
      }
      // Down for a few seconds (longer than the 2 s lease TTL), then back on the same data dir.
      const downFor = 4000 - (performance.now() - downAt);
      if (downFor > 0) await new Promise((ok) => setTimeout(ok, downFor));
      await etcd.restart();
      const upAt = performance.now();

      // The registration comes back (same lease if it survived, else a new one after onLost).
      let listed = false;
      while (performance.now() - upAt < 20_000) {
        try {
          if ((await observer.listWorkers()).some((w) => w.id === 'w-outage')) {
            listed = true;
            break;
          }
        } catch {
          // the client may still be reconnecting
        }
        await new Promise((ok) => setTimeout(ok, 100));
      }
      assert.ok(listed, 'the worker registration did not come back after etcd restarted');
      figures.push(
        `etcd: registration listed again after restart (ms) = ${(performance.now() - upAt).toFixed(0)}; onLost calls = ${lostErrors.length}`,
      );
      for (const e of lostErrors) assert.ok(isStrataError(e, 'UNAVAILABLE'));
      // etcd restores the old lease on restart, but nobody renews it: the worker must still be
      // listed after that lease's TTL, i.e. on the lease the handle re-registered with.
      await new Promise((ok) => setTimeout(ok, 3500));
      assert.deepEqual(
        (await observer.listWorkers()).map((w) => w.id),
        ['w-outage'],
        'the registration vanished once the pre-restart lease expired',
      );

      // Writes made after the restart reach the watchers that were created before it.
      const t0 = performance.now();
      let saved = false;
      while (!saved && performance.now() - t0 < 20_000) {
        try {
          await registry.saveMount({
            path: '/after-restart',
            uri: 'file:///x',
            readOnly: false,
            syncIntervalMs: -1,
            writeType: 'CACHE_THROUGH',
            options: {},
          });
          saved = true;
        } catch {
          await new Promise((ok) => setTimeout(ok, 200));
        }
      }
      assert.ok(saved, 'saveMount never succeeded after the restart');
      while (performance.now() - t0 < 20_000 && !mountSnaps.at(-1)?.includes('/after-restart'))
        await new Promise((ok) => setTimeout(ok, 50));
      assert.deepEqual(mountSnaps.at(-1), ['/after-restart'], 'the mount watch did not recover');
      figures.push(
        `etcd: mount watch saw a post-restart write after (ms) = ${(performance.now() - t0).toFixed(0)}`,
      );
      await reg.update({ state: 'DRAINING' });
      const t1 = performance.now();
      while (performance.now() - t1 < 10_000 && workerSnaps.at(-1)?.length !== 1)
        await new Promise((ok) => setTimeout(ok, 50));
      assert.equal((await observer.listWorkers())[0]?.state, 'DRAINING');
      await reg.close();
      const t2 = performance.now();
      while (performance.now() - t2 < 10_000 && workerSnaps.at(-1)?.length !== 0)
        await new Promise((ok) => setTimeout(ok, 50));
      assert.deepEqual(workerSnaps.at(-1), [], 'the worker watch did not see the leave after the restart');
      unwatchW();
      unwatchM();
    } finally {
      await registry.close();
      await observer.close();
    }
  });
});

/** SIGSTOP is asynchronous: wait until the kernel reports the process as stopped ("T"). */
async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) T /.test(stat)) return;
    await new Promise((ok) => setTimeout(ok, 10));
  }
  throw new Error(`etcd ${pid} did not stop`);
}
