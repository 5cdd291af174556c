import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { forceUnmount, fuseSkipReason, sh } from '../fuse/fuse-helpers.js';
import { ACCESS_KEY, SECRET_KEY } from '../gateway/harness.js';
import { signedHeaders } from '../gateway/sign.js';
import { type Daemon, spawnDaemon } from '../helpers/daemon.js';
import {
  type RunningStrata,
  runCli,
  STRATA_BIN,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';
import {
  dashboardQueries,
  documentedSeries,
  familyOf,
  liveFamilies,
  metricNames,
  samples,
} from './metrics-text.js';

/**
 * docs/metrics.md against the live /metrics of every kind of process that has its own series:
 * `strata local` (worker, RPC, S3, jobs), `strata gateway s3 --metrics-port` and
 * `strata fuse mount --metrics-port`. Both ways: exposed ⇒ documented, documented ⇒ exposed.
 * Then the Grafana dashboard's queries against the same live families.
 */

const S3_ENV = { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY };
const fuseSkip = fuseSkipReason();

interface AdminReady {
  ready: true;
  addresses: Record<string, string>;
}

describe('metrics: docs/metrics.md and the Grafana dashboard match the live /metrics', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let local: RunningStrata;
  let gateway: Daemon<AdminReady>;
  let fuse: Daemon<AdminReady> | undefined;
  let mnt: string;
  const admins: Record<string, string> = {};

  before(async () => {
    tmp = await tempDir('metrics-docs');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'bkt'), { recursive: true });
    await writeFile(join(ufs, 'bkt', 'a.bin'), Buffer.alloc(5000, 7));
    await writeFile(join(ufs, 'bkt', 'fuse.bin'), Buffer.alloc(7000, 3));
    // At debug: the FUSE test below follows request ids into this process's RPC and store lines.
    local = await startLocal(
      ['--data-dir', join(tmp.dir, 'data'), '--mount', `/=${pathToFileURL(ufs)}`, '--log-level', 'debug'],
      S3_ENV,
    );
    admins.local = local.ready.addresses.admin!;
    gateway = await spawnDaemon<AdminReady>(
      process.execPath,
      [STRATA_BIN, 'gateway', 's3', '--registry', local.registry, '--port', '0', '--metrics-port', '0'],
      { env: { ...S3_ENV, STRATA_LOG: 'off' }, what: 'strata gateway s3' },
    );
    admins.gateway = gateway.ready.addresses.admin!;
    if (fuseSkip === undefined) {
      mnt = join(tmp.dir, 'mnt');
      await mkdir(mnt);
      fuse = await spawnDaemon<AdminReady>(
        process.execPath,
        [
          STRATA_BIN,
          'fuse',
          'mount',
          mnt,
          '--registry',
          local.registry,
          '--foreground',
          '--metrics-port',
          '0',
          '--log-level',
          'debug',
        ],
        { what: 'strata fuse', timeoutMs: 20_000 },
      );
      admins.fuse = fuse.ready.addresses.admin!;
    }
  });

  after(async () => {
    await fuse?.stop();
    if (mnt) await forceUnmount(mnt);
    await gateway?.stop();
    await local?.stop();
    await tmp?.cleanup();
  });

  test('each daemon answers /metrics and /healthz on its admin address; the S3 port is not it', async () => {
    for (const [role, admin] of Object.entries(admins)) {
      const health = await fetch(`${admin}/healthz`);
      assert.equal(health.status, 200, role);
      assert.ok((await liveFamilies(admin)).has('process_resident_memory_bytes'), role);
    }
    // On the gateway's S3 port, /metrics is a bucket named "metrics", not Prometheus text.
    const s3 = await fetch(`${gateway.ready.addresses.s3}/metrics`);
    assert.equal(s3.status, 404);
    assert.match(await s3.text(), /NoSuchBucket/);
    const bad = await runCli(['gateway', 's3', '--registry', local.registry, '--metrics-port', '70000']);
    assert.equal(bad.code, 64, bad.stderr);
    assert.match(bad.stderr, /--metrics-port/);
  });

  test('request histograms: S3 by operation and status, RPC by route, FUSE by errno — no paths or keys', async () => {
    const get = async (base: string, key: string) => {
      const url = `${base}/bkt/${key}`;
      const res = await fetch(url, { headers: await signedHeaders(url, 'GET') });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await get(local.ready.addresses.s3!, 'a.bin'), 200);
    assert.equal(await get(local.ready.addresses.s3!, 'missing.bin'), 404);
    assert.equal(await get(gateway.ready.addresses.s3!, 'a.bin'), 200);
    const listUrl = `${local.ready.addresses.s3}/bkt?list-type=2`;
    const list = await fetch(listUrl, { headers: await signedHeaders(listUrl, 'GET') });
    assert.equal(list.status, 200);
    await list.arrayBuffer();
    const stat = await runCli(['fs', 'stat', '/bkt/a.bin'], { registry: local.registry });
    assert.equal(stat.code, 0, stat.stderr);
    const { tokenFile } = local.ready as typeof local.ready & { tokenFile: string };
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const nope = await fetch(`${local.registry}/rpc/v1/no/such/route`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(nope.status, 400);
    await nope.arrayBuffer();

    const has = async (admin: string, name: string, labels: Record<string, string>) =>
      (await samples(admin, `${name}_count`)).some(
        (s) => s.value >= 1 && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      );
    const s3 = 'strata_s3_request_duration_seconds';
    // The histogram is observed when the response closes: poll for it, never sleep.
    await waitFor(
      'S3 histogram samples',
      async () =>
        (await has(admins.local!, s3, { operation: 'GetObject', status: '200' })) &&
        (await has(admins.local!, s3, { operation: 'GetObject', status: '404' })) &&
        (await has(admins.local!, s3, { operation: 'ListObjectsV2', status: '200' })) &&
        (await has(admins.gateway!, s3, { operation: 'GetObject', status: '200' })),
    );
    const rpc = 'strata_rpc_request_duration_seconds';
    await waitFor(
      'RPC histogram samples',
      async () =>
        (await has(admins.local!, rpc, { route: 'status', status: '200' })) &&
        (await has(admins.local!, rpc, { route: 'unknown', status: '400' })),
    );
    // The standalone gateway's GET went to the worker over the RPC: a read route was counted there.
    assert.ok(await has(admins.local!, rpc, { route: 'read', status: '200' }));
    if (fuse) {
      assert.equal((await sh(`stat ${mnt}/bkt/a.bin`)).code, 0);
      assert.notEqual((await sh(`stat ${mnt}/bkt/missing.bin`)).code, 0);
      const f = 'strata_fuse_request_duration_seconds';
      await waitFor(
        'FUSE histogram samples',
        async () =>
          (await has(admins.fuse!, f, { operation: 'getattr', outcome: 'ok' })) &&
          (await has(admins.fuse!, f, { operation: 'getattr', outcome: 'ENOENT' })),
      );
    }
    // Low cardinality: no label but `mount` names anything of the namespace.
    for (const admin of Object.values(admins)) {
      const text = await (await fetch(`${admin}/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith('strata_')) continue;
        const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
        const withoutMount = labels.replace(/mount="[^"]*"/, '');
        assert.doesNotMatch(withoutMount, /a\.bin|missing|bkt|\//, line);
      }
    }
  });

  test("FUSE at debug: a kernel read's request id reaches the worker's RPC and store-call lines", {
    skip: fuseSkip ?? false,
  }, async () => {
    const cat = await sh(`cat ${mnt}/bkt/fuse.bin | wc -c`);
    assert.equal(cat.stdout.trim(), '7000', cat.stderr);
    const parse = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const reads = await waitFor('fuse_request lines of the read', async () => {
      const ids = parse(fuse!.stderr())
        .filter((l) => l.event === 'fuse_request' && l.operation === 'read' && l.outcome === 'ok')
        .map((l) => String(l.requestId));
      return ids.length > 0 ? new Set(ids) : undefined;
    });
    const onWorker = await waitFor("the worker's lines with a FUSE read's id", async () => {
      const mine = parse(local.stderr()).filter((l) => reads.has(String(l.requestId)));
      const rpc = mine.find((l) => l.event === 'rpc_request' && l.route === 'read');
      const store = mine.find(
        (l) => l.event === 'store_call' && l.op === 'read' && l.path === '/bkt/fuse.bin',
      );
      return rpc && store ? { rpc, store } : undefined;
    });
    assert.equal(onWorker.rpc.requestId, onWorker.store.requestId);
  });

  test('every exposed series is in docs/metrics.md and every documented series is exposed', async (t) => {
    const documented = await documentedSeries();
    const live = new Map<string, { type: string; where: string }>();
    for (const [role, admin] of Object.entries(admins))
      for (const [name, type] of await liveFamilies(admin)) live.set(name, { type, where: role });
    const matches = (doc: string, name: string) =>
      doc.endsWith('*') ? name.startsWith(doc.slice(0, -1)) : doc === name;
    const undocumented = [...live.keys()].filter((n) => !documented.some((d) => matches(d.name, n)));
    assert.deepEqual(undocumented, [], 'exposed on /metrics but missing from docs/metrics.md');
    const fuseOnly = new Set(['strata_fuse_request_duration_seconds']);
    const unexposed = documented
      .filter((d) => !(fuse === undefined && fuseOnly.has(d.name)))
      .filter((d) => ![...live.keys()].some((n) => matches(d.name, n)))
      .map((d) => d.name);
    assert.deepEqual(unexposed, [], 'in docs/metrics.md but exposed by no process');
    if (fuse === undefined) t.diagnostic(`FUSE series not checked live: ${fuseSkip}`);
    for (const d of documented) {
      if (d.type === 'various') continue;
      assert.equal(live.get(d.name)?.type ?? d.type, d.type, `${d.name}: documented type`);
    }
  });

  test('every metric a Grafana panel queries is a series the live /metrics exposes', async () => {
    const queries = await dashboardQueries();
    assert.ok(queries.length >= 30, `the dashboard has ${queries.length} queries`);
    const localFamilies = await liveFamilies(admins.local!);
    const all = new Map(localFamilies);
    for (const admin of [admins.gateway!, ...(admins.fuse ? [admins.fuse] : [])])
      for (const [n, type] of await liveFamilies(admin)) all.set(n, type);
    const missing: string[] = [];
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNames(q.expr);
      assert.ok(names.length > 0, `${q.panel}: no metric in ${q.expr}`);
      for (const name of names) {
        const family = familyOf(name, all);
        if (family === undefined) {
          if (!(admins.fuse === undefined && name.startsWith('strata_fuse_')))
            missing.push(`${q.panel}: ${name}`);
          continue;
        }
        used.add(family);
        // Everything but the FUSE panels reads series that `strata local` itself exposes.
        if (!family.startsWith('strata_fuse_'))
          assert.ok(familyOf(name, localFamilies), `${q.panel}: ${name} is not on strata local's /metrics`);
      }
    }
    assert.deepEqual(missing, []);
    for (const wanted of [
      'strata_cache_hit_bytes_total',
      'strata_cache_miss_bytes_total',
      'strata_ufs_read_bytes_total',
      'strata_page_store_evictions_total',
      'strata_page_store_used_bytes',
      'strata_rpc_request_duration_seconds',
      'strata_s3_request_duration_seconds',
      'strata_jobs',
    ])
      assert.ok(used.has(wanted), `the dashboard shows ${wanted}`);
  });
});
