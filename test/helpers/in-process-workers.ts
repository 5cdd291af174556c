import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { loadServerConfig } from '../../src/core/config.js';
import { mountInfo } from '../../src/core/mounts.js';
import { EmbeddedRegistry } from '../../src/registry/embedded-registry.js';
import type { Unwatch, WorkerRegistration } from '../../src/registry/registry.js';
import { adminHandler, type Listening, listenHttp } from '../../src/server/http-server.js';
import { createRpcHandler } from '../../src/server/rpc-server.js';
import { shortCircuitRoutes } from '../../src/server/rpc-short-circuit.js';
import { VERSION, WorkerNode } from '../../src/server/worker-node.js';

/**
 * Workers in this process sharing one embedded registry (no etcd, no child processes): each is
 * a WorkerNode behind its own HTTP listener with the worker RPC, registered with a lease and
 * following the registry's mount table by watch, as `strata worker` does (src/server/worker.ts,
 * which opens a registry of its own per process and so cannot share an embedded one).
 */

export interface InProcessWorker {
  readonly id: string;
  readonly node: WorkerNode;
  /** http://127.0.0.1:port of its RPC. */
  readonly address: string;
}

export interface InProcessWorkers {
  readonly registry: EmbeddedRegistry;
  readonly workers: readonly InProcessWorker[];
  /** The cluster token every RPC call carries. */
  readonly token: string;
  /** A cluster client routing over these workers (closed by stop()). */
  cluster(): Promise<ClusterFileSystem>;
  /** Waits until every worker serves the registry's mount table (the watch applies it asynchronously). */
  settle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startInProcessWorkers(dir: string, count: number): Promise<InProcessWorkers> {
  const registry = new EmbeddedRegistry(join(dir, 'registry'));
  await registry.open();
  const token = 'fs-contract-token';
  const started: Array<{
    worker: InProcessWorker;
    http: Listening;
    unwatch: Unwatch;
    registration: WorkerRegistration;
  }> = [];
  const clients: ClusterFileSystem[] = [];
  const stop = async (): Promise<void> => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    for (const s of started.splice(0).reverse()) {
      await s.registration.close().catch(() => undefined);
      s.unwatch();
      await s.http.close(0);
      await s.worker.node.stop();
    }
    await registry.close();
  };
  try {
    for (let i = 1; i <= count; i++) {
      const dataDir = join(dir, `w${i}`);
      await mkdir(dataDir, { recursive: true });
      // Fixed ids, so ring placement (and thus which worker owns which path) is the same every run.
      await writeFile(join(dataDir, 'worker-id'), `w${i}\n`);
      const config = await loadServerConfig(
        {
          dataDir,
          host: '127.0.0.1',
          port: '0',
          memoryCapacity: '64MiB',
          diskCapacity: '256MiB',
          s3Port: 'off',
          token,
        },
        {},
      );
      const node = new WorkerNode(config, registry);
      const http = await listenHttp('127.0.0.1', 0);
      try {
        await node.start(http.base, registry.uri, { defaultRootMount: false });
      } catch (err) {
        await http.close(0);
        await node.stop();
        throw err;
      }
      // Applied on a later turn, as an etcd watch event arrives: the embedded registry calls
      // watchers synchronously inside deleteMount, while MountTable.remove is still between
      // persisting the removal and forgetting the mount, so both would close the store (and an
      // http store's second close() throws).
      const unwatch = await registry.watchMounts((records) => {
        setImmediate(() => {
          node.fs.applyMounts(records).catch(() => undefined);
        });
      });
      http.serve([
        adminHandler(node, 'worker', VERSION),
        createRpcHandler(node.fs, { token, routes: shortCircuitRoutes(node.fs) }),
      ]);
      const registration = await registry.registerWorker({
        id: node.id,
        address: http.base,
        capacityBytes: config.memoryCapacity + config.diskCapacity,
        state: 'ACTIVE',
        version: VERSION,
        startedAtMs: Date.now(),
      });
      started.push({ worker: { id: node.id, node, address: http.base }, http, unwatch, registration });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    registry,
    workers: started.map((s) => s.worker),
    token,
    async cluster() {
      const client = await ClusterFileSystem.open(
        {
          listWorkers: () => registry.listWorkers(),
          watchWorkers: (onChange) => registry.watchWorkers(onChange),
          loadMounts: () => registry.loadMounts(),
        },
        { token, requestTimeoutMs: 20_000 },
      );
      clients.push(client);
      return client;
    },
    async settle(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const wanted = JSON.stringify((await registry.loadMounts()).map(mountInfo));
        let converged = true;
        for (const s of started) {
          if (JSON.stringify(await s.worker.node.fs.mounts()) !== wanted) converged = false;
        }
        if (converged) return;
        if (Date.now() > deadline) throw new Error('workers did not converge on the mount table');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    stop,
  };
}
