import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DoctorReport } from '../../src/cli/doctor/finding.js';
import {
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
} from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { runCli, tempDir } from '../helpers/local-process.js';

/** `strata doctor --registry etcd://…`: etcd, the cluster token from it, two workers and a scheduler. */

describe('strata doctor on a cluster', () => {
  let etcd: EtcdProcess;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const workers: RunningWorker[] = [];
  let scheduler: RunningScheduler | undefined;

  before(async () => {
    etcd = await startEtcd();
    tmp = await tempDir('doctor-cluster');
    for (const name of ['w1', 'w2'])
      workers.push(await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, name), '--lease-ttl', '60s']));
    scheduler = await startScheduler(etcd.uri);
    await mkdir(join(tmp.dir, 'store'));
    const m = await runCli(['fs', 'mount', '/data', `file://${join(tmp.dir, 'store')}`], {
      registry: etcd.uri,
    });
    assert.equal(m.code, 0, m.stderr);
  });

  after(async () => {
    await scheduler?.stop();
    for (const w of workers) await w.stop();
    await etcd?.stop();
    await tmp?.cleanup();
  });

  it('every daemon the registry lists is checked; a dead worker port fails', async () => {
    const r = await runCli(['doctor', '--json', '--write-probe'], { registry: etcd.uri });
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(r.code, 0, r.stdout);
    const reg = report.findings.find((f) => f.check === 'registry')!;
    assert.match(reg.message, /etcd at 127\.0\.0\.1:\d+: 2 live workers, token the cluster token in etcd/);
    const ports = report.findings.filter((f) => f.check === 'port');
    assert.deepEqual(ports.map((p) => p.subject?.split(' ')[0]).sort(), ['scheduler', 'worker', 'worker']);
    assert.ok(ports.every((p) => p.status === 'ok'));
    // Each worker reports its directories through the cluster token.
    const tiers = report.findings.filter((f) => f.check === 'tier');
    assert.equal(tiers.length, 8, JSON.stringify(tiers));
    assert.ok(tiers.every((t) => t.status === 'ok'));
    assert.ok(report.findings.filter((f) => f.check === 'store').every((f) => f.status === 'ok'));
    const clock = report.findings.find((f) => f.check === 'clock')!;
    assert.equal(clock.status, 'ok');
    assert.match(clock.message, /of the 4 servers asked/, 'etcd, 2 workers, the scheduler');

    // A worker killed: until its lease (60 s here) expires it is listed, and its port does not answer.
    await workers[1]!.kill();
    const after = await runCli(['doctor', '--json'], { registry: etcd.uri });
    const dead = (JSON.parse(after.stdout) as DoctorReport).findings.filter(
      (f) => f.check === 'port' && f.status === 'fail',
    );
    assert.equal(dead.length, 1, after.stdout);
    assert.equal(after.code, 1);
    assert.match(dead[0]!.message, /does not answer \/healthz: connection refused/);
  });
});
