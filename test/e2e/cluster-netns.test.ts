import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { collect } from '../../src/worker/file-system.js';
import { clusterToken, type RunningWorker, startWorker, workerMounts } from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { metric, tempDir, waitFor } from '../helpers/local-process.js';

const run = promisify(execFile);
const ip = (...args: string[]) => run('ip', args);

/**
 * Workers as separate hosts: each runs in a network namespace of this test's own, joined to the
 * host by a veth pair (host 10.213.N.1 ↔ namespace 10.213.N.2). Only these addresses, which the
 * test creates and removes, are ever contacted.
 */
const tag = randomBytes(2).toString('hex');
const HOSTS = [1, 2].map((n) => ({
  ns: `strata-${tag}-${n}`,
  hostIf: `st${tag}h${n}`,
  nsIf: `st${tag}n${n}`,
  hostIp: `10.213.${n}.1`,
  nsIp: `10.213.${n}.2`,
}));

async function netnsUsable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    await ip('netns', 'add', `strata-${tag}-probe`);
    await ip('netns', 'del', `strata-${tag}-probe`);
    return undefined;
  } catch (err) {
    return `ip netns is not available here: ${(err as Error).message.split('\n')[0]}`;
  }
}

async function createHosts(): Promise<void> {
  for (const h of HOSTS) {
    await ip('netns', 'add', h.ns);
    await ip('link', 'add', h.hostIf, 'type', 'veth', 'peer', 'name', h.nsIf);
    await ip('link', 'set', h.nsIf, 'netns', h.ns);
    await ip('addr', 'add', `${h.hostIp}/30`, 'dev', h.hostIf);
    await ip('link', 'set', h.hostIf, 'up');
    await ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.nsIp}/30`, 'dev', h.nsIf);
    await ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.nsIf, 'up');
    await ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
  }
}

async function removeHosts(): Promise<void> {
  for (const h of HOSTS) {
    await ip('netns', 'del', h.ns).catch(() => undefined); // also removes the veth pair
    await ip('link', 'del', h.hostIf).catch(() => undefined);
  }
}

describe('workers on separate network hosts (ip netns + veth)', async () => {
  const skip = await netnsUsable();
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  let fs: ConnectedFileSystem;
  const digests = new Map<string, string>();

  before(async () => {
    if (skip) return;
    tmp = await tempDir('netns');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    for (let i = 0; i < 24; i++) {
      const body = randomBytes(128 * 1024);
      await writeFile(join(ufs, `f${i}.bin`), body);
      digests.set(`/net/f${i}.bin`, createHash('sha256').update(body).digest('hex'));
    }
    await createHosts();
    etcd = await startEtcd({ extraClientHosts: HOSTS.map((h) => h.hostIp) });
    const port = new URL(etcd.clientUrl).port;
    for (const [i, h] of HOSTS.entries()) {
      workers.push(
        await startWorker(
          `etcd://${h.hostIp}:${port}`,
          ['--host', h.nsIp, '--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', '2s'],
          {},
          ['ip', 'netns', 'exec', h.ns],
        ),
      );
    }
    fs = await connect(etcd.uri, { connectTimeoutMs: 1000, requestTimeoutMs: 3000 });
    await waitFor('2 workers', async () => fs.location('/net/f0.bin').length === 2);
    await fs.mount('/net', pathToFileURL(ufs).toString());
    const token = await clusterToken(etcd.uri);
    await waitFor('mount everywhere', async () => {
      for (const w of workers)
        if (!(await workerMounts(w.ready.addresses.worker, token)).includes('/net')) return false;
      return true;
    });
  });

  after(async () => {
    if (skip) return;
    await fs?.close();
    for (const w of workers) await w.kill().catch(() => undefined);
    await etcd?.stop();
    await removeHosts();
    await tmp?.cleanup();
  });

  test('reads are served by workers in other namespaces; a cut link fails over', {
    skip: skip ?? false,
  }, async () => {
    for (const w of workers) assert.match(w.ready.addresses.worker, /^http:\/\/10\.213\.\d\.2:\d+$/);
    const check = async (path: string) => {
      const body = await collect(await fs.read(path));
      assert.equal(createHash('sha256').update(body).digest('hex'), digests.get(path));
    };
    for (const path of digests.keys()) await check(path);
    for (const w of workers)
      assert.ok(
        (await metric(w.ready.addresses.admin, 'strata_ufs_read_bytes_total', { mount: '/net' })) > 0,
      );
    // Cut host 1 off the network: its worker is unreachable and its lease runs out.
    await ip('link', 'set', HOSTS[0]!.hostIf, 'down');
    for (const path of digests.keys()) await check(path);
    await waitFor(
      'ring without the cut-off worker',
      async () => fs.location('/net/f0.bin').length === 1,
      15_000,
    );
    for (const path of digests.keys()) await check(path);
  });
});
