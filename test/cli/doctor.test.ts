import assert from 'node:assert/strict';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkClock, FAIL_SKEW_MS, WARN_SKEW_MS } from '../../src/cli/doctor/clock-check.js';
import type { DoctorReport, Finding } from '../../src/cli/doctor/finding.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';

/** `strata doctor` against a real `strata local`: healthy, a store folder gone, a dead registry. */

async function doctor(
  args: string[],
  options: { registry?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const r = await runCli(['doctor', '--json', ...args], options);
  return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport, stderr: r.stderr };
}

function find(report: DoctorReport, check: string, subject?: string): Finding[] {
  return report.findings.filter((f) => f.check === check && (subject === undefined || f.subject === subject));
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

describe('strata doctor', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: RunningStrata;
  let store: string;
  let data: string;

  before(async () => {
    tmp = await tempDir('doctor');
    store = join(tmp.dir, 'store');
    data = join(tmp.dir, 'data');
    await mkdir(store);
    local = await startLocal(['--data-dir', data, '--s3-port', 'off', '--mount', `/data=file://${store}`]);
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  it('a healthy strata local: every check ok, exit 0; the write probe leaves nothing behind', async () => {
    const { code, report, stderr } = await doctor(['--write-probe'], { registry: local.registry });
    assert.equal(code, 0, stderr);
    assert.equal(report.ok, true);
    const bad = report.findings.filter((f) => f.status === 'fail');
    assert.deepEqual(bad, []);
    assert.equal(find(report, 'registry')[0]?.status, 'ok');
    const stores = find(report, 'store', '/data');
    assert.equal(stores.length, 2, 'a read and a write probe');
    assert.ok(
      stores.every((f) => f.status === 'ok'),
      JSON.stringify(stores),
    );
    assert.match(stores[1]!.message, /written to the store and deleted/);
    assert.deepEqual(await readdir(store), [], 'the probe object was deleted from the store');
    assert.equal(find(report, 'port')[0]?.status, 'ok');
    const tiers = find(report, 'tier');
    assert.deepEqual(
      tiers.map((t) => t.subject?.split(' ')[1]),
      ['data', 'meta', 'staging', 'disk0'],
    );
    assert.ok(tiers.every((t) => t.status === 'ok'));
    assert.equal(find(report, 'clock')[0]?.status, 'ok');
    assert.equal(find(report, 'fuse').length, 3);
    // Every finding has the contract's fields; a fix only when it is not ok.
    for (const f of report.findings) {
      assert.ok(['ok', 'warn', 'fail'].includes(f.status));
      assert.equal(typeof f.message, 'string');
      if (f.status === 'ok') assert.equal(f.fix, undefined);
      else assert.equal(typeof f.fix, 'string');
    }
    // The text form: one line per finding and a count.
    const text = await runCli(['doctor'], { registry: local.registry });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ok {4}registry /m);
    assert.match(text.stdout, /0 failed, \d+ warnings?, \d+ ok\n$/);
  });

  it('without the FUSE addon: a warning with how to build it, still exit 0', async () => {
    const { code, report } = await doctor([], {
      registry: local.registry,
      env: { STRATA_FUSE_ADDON: join(tmp.dir, 'missing.node') },
    });
    assert.equal(code, 0);
    const addon = find(report, 'fuse', 'addon')[0]!;
    assert.equal(addon.status, 'warn');
    assert.match(addon.fix!, /scripts\/build-fuse\.sh/);
  });

  it('a file:// mount whose folder has gone fails, with the fix; a disk tier folder gone fails', async () => {
    await rm(store, { recursive: true });
    await rm(join(data, 'pages'), { recursive: true });
    try {
      const { code, report } = await doctor([], { registry: local.registry });
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      const s = find(report, 'store', '/data')[0]!;
      assert.equal(s.status, 'fail');
      assert.match(s.message, /NOT_FOUND/);
      assert.match(s.fix!, /folder is gone/);
      const tier = report.findings.find((f) => f.check === 'tier' && f.subject?.endsWith(' disk0'))!;
      assert.equal(tier.status, 'fail');
      assert.match(tier.message, /missing/);
      assert.equal(find(report, 'registry')[0]?.status, 'ok', 'the rest is still fine');
      const text = await runCli(['doctor'], { registry: local.registry });
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^FAIL {2}store \/data .*\n +fix: the store's folder is gone/m);
    } finally {
      await mkdir(store);
      await mkdir(join(data, 'pages'));
    }
  });

  it('an unreachable registry (http or etcd) is one clear failure, exit 1', async () => {
    const port = await deadPort();
    const { code, report } = await doctor([], { registry: `http://127.0.0.1:${port}` });
    assert.equal(code, 1);
    const reg = find(report, 'registry')[0]!;
    assert.equal(reg.status, 'fail');
    assert.match(reg.message, /unreachable: connection refused/);
    assert.match(reg.fix!, /strata local/);
    assert.deepEqual(find(report, 'store'), [], 'nothing that needs the registry was tried');

    const etcd = await doctor([], { registry: `etcd://127.0.0.1:${port}` });
    assert.equal(etcd.code, 1);
    const e = find(etcd.report, 'registry')[0]!;
    assert.equal(e.status, 'fail');
    assert.match(e.message, /etcd at 127\.0\.0\.1:\d+ is unreachable/);
    assert.match(e.fix!, /etcdctl/);

    const none = await runCli(['doctor', '--json'], { env: { STRATA_REGISTRY: '' } });
    assert.equal(none.code, 1);
    const n = find(JSON.parse(none.stdout) as DoctorReport, 'registry')[0]!;
    assert.equal(n.message, 'no registry given');
    assert.match(n.fix!, /--registry/);
  });

  it('clock skew: ok within 2 s, warn past it, fail past 15 min (the Date header has 1 s steps)', () => {
    const at = (skewMs: number) => ({
      source: 'registry x',
      sentAtMs: 1_000_000,
      receivedAtMs: 1_000_010,
      // What a server whose clock is skewMs ahead writes in its Date header: whole seconds.
      serverMs: Math.floor((1_000_005 + skewMs) / 1000) * 1000,
    });
    assert.equal(checkClock([at(0)])[0]?.status, 'ok');
    assert.equal(checkClock([at(-1_400)])[0]?.status, 'ok');
    assert.equal(checkClock([at(WARN_SKEW_MS + 2_000)])[0]?.status, 'warn');
    assert.match(checkClock([at(-(WARN_SKEW_MS + 2_000))])[0]!.message, /behind this machine/);
    assert.equal(checkClock([at(FAIL_SKEW_MS + 2_000)])[0]?.status, 'fail');
    assert.equal(checkClock([])[0]?.status, 'warn');
  });
});
