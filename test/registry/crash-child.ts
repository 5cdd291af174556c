/**
 * A worker that registers in etcd and then waits to be killed (SIGKILL: no revoke, no goodbye),
 * so the contract's "lost lease" case sees a real crashed owner.
 * argv: <etcd uri> <key prefix> <WorkerInfo JSON> <lease TTL ms>
 */
import { EtcdRegistry } from '../../src/registry/etcd-registry.js';
import type { WorkerInfo } from '../../src/registry/registry.js';

const [uri, prefix, infoJson, ttl] = process.argv.slice(2);
if (uri === undefined || prefix === undefined || infoJson === undefined || ttl === undefined) {
  process.stderr.write('usage: crash-child URI PREFIX INFO_JSON TTL_MS\n');
  process.exit(64);
}
const registry = new EtcdRegistry(uri, { prefix });
await registry.open();
await registry.registerWorker(JSON.parse(infoJson) as WorkerInfo, { leaseTtlMs: Number(ttl) });
process.stdout.write('registered\n');
setInterval(() => undefined, 60_000);
