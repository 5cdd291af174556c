import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { collect } from '../../src/worker/file-system.js';
import { ACCESS_KEY, SECRET_KEY } from '../gateway/harness.js';
import { signedHeaders } from '../gateway/sign.js';
import { clusterToken, type RunningWorker, startWorker, workerMounts } from '../helpers/cluster.js';
import { type Daemon, spawnDaemon } from '../helpers/daemon.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import {
  metric,
  type RunningStrata,
  STRATA_BIN,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';
import { dashboardQueries, familyOf, liveFamilies, metricNames, substituteGrafana } from './metrics-text.js';
import { type PrometheusServer, prometheusSkipReason, startPrometheus } from './prometheus-server.js';

/**
 * A real Prometheus (Debian's) scraping a 3-worker cluster (etcd), a `strata gateway s3` in front
 * of it and a `strata local`, asked the cluster hit ratio in PromQL after reads whose hits and
 * misses the test knows exactly; every Grafana query run on it. The cluster runs at
 * --log-level debug, and one S3 GET is followed by its request id from the gateway's log through
 * a worker's RPC line to its store call.
 */

const S3_ENV = { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY };
const skip = prometheusSkipReason();
// One page each (the default page is 1 MiB): a first read is all miss, a second all hit, with no
// readahead in between to blur the split.
const SIZES = [100_000, 250_001, 400_000, 512_345, 700_000, 999_999, 64_000, 333_333, 800_000];
const REREAD = [0, 2, 3, 5];

interface GatewayReady {
  ready: true;
  addresses: { s3: string; admin: string };
}

type LogLine = Record<string, unknown> & { event?: string; requestId?: string };

function lines(stderr: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of stderr.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a line cut by the capture's cap
    }
  }
  return out;
}

/** Reads every file once and the REREAD ones twice more; returns the bytes that must be hits and misses. */
async function drive(fs: ConnectedFileSystem, dir: string): Promise<{ hits: number; misses: number }> {
  for (let i = 0; i < SIZES.length; i++) {
    const got = await collect(await fs.read(`${dir}/f${i}.bin`));
    assert.equal(got.length, SIZES[i]);
  }
  for (let round = 0; round < 2; round++)
    for (const i of REREAD) await collect(await fs.read(`${dir}/f${i}.bin`));
  const misses = SIZES.reduce((a, b) => a + b, 0);
  const hits = 2 * REREAD.reduce((a, i) => a + SIZES[i]!, 0);
  // A cluster client reads cached pages on this host itself and reports those hits to their
  // workers within 100 ms; report them now, before the scrape that must hold every read.
  if (fs instanceof ClusterFileSystem) await fs.flushShortCircuitHits();
  return { hits, misses };
}

async function writeFiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < SIZES.length; i++) await writeFile(join(dir, `f${i}.bin`), Buffer.alloc(SIZES[i]!, i));
}

describe('Prometheus scraping strata local and a 3-worker cluster', { skip: skip ?? false }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  let gateway: Daemon<GatewayReady>;
  let local: RunningStrata;
  let prometheus: PrometheusServer;
  let cluster: ConnectedFileSystem;
  let localFs: ConnectedFileSystem;
  let clusterUfs: string;

  before(async () => {
    tmp = await tempDir('prometheus');
    clusterUfs = join(tmp.dir, 'ufs-cluster');
    await writeFiles(join(clusterUfs, 'hot'));
    await writeFiles(join(tmp.dir, 'ufs-local', 'hot'));
    await writeFile(join(clusterUfs, 'fresh.bin'), Buffer.alloc(3000, 1));
    etcd = await startEtcd();
    for (let i = 0; i < 3; i++)
      workers.push(
        await startWorker(etcd.uri, [
          '--data-dir',
          join(tmp.dir, `w${i}`),
          '--lease-ttl',
          '2s',
          '--drain-timeout',
          '1s',
          '--log-level',
          'debug',
        ]),
      );
    cluster = await connect(etcd.uri);
    await waitFor('3 workers in the ring', async () => (await cluster.report()).workers.length === 3);
    // /lake for the request-id GETs, /hot for the reads whose hit ratio is asked (its own series).
    await cluster.mount('/lake', pathToFileURL(clusterUfs).toString());
    await cluster.mount('/hot', pathToFileURL(join(clusterUfs, 'hot')).toString());
    const token = await clusterToken(etcd.uri);
    await waitFor('the mounts on every worker', async () => {
      for (const w of workers) {
        const mounts = await workerMounts(w.ready.addresses.worker, token);
        if (!mounts.includes('/lake') || !mounts.includes('/hot')) return false;
      }
      return true;
    });
    gateway = await spawnDaemon<GatewayReady>(
      process.execPath,
      [
        STRATA_BIN,
        'gateway',
        's3',
        '--registry',
        etcd.uri,
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--log-level',
        'debug',
      ],
      { env: S3_ENV, what: 'strata gateway s3' },
    );
    local = await startLocal(
      ['--data-dir', join(tmp.dir, 'local'), '--mount', `/=${pathToFileURL(join(tmp.dir, 'ufs-local'))}`],
      { ...S3_ENV, STRATA_LOG: 'off' },
    );
    localFs = await connect(local.registry);
    prometheus = await startPrometheus({
      cluster: workers.map((w) => w.ready.addresses.admin),
      local: [local.ready.addresses.admin!],
      gateway: [gateway.ready.addresses.admin],
    });
    await waitFor(
      'every target up in Prometheus',
      async () => (await prometheus.value('count(up == 1)')) === 5,
      30_000,
    );
  });

  after(async () => {
    await cluster?.close();
    await localFs?.close();
    await prometheus?.stop();
    await gateway?.stop();
    await local?.stop();
    for (const w of workers) await w.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp?.cleanup();
  });

  test("one S3 GET: the same request id in the gateway's, the worker's and the store call's log lines", async () => {
    const url = `${gateway.ready.addresses.s3}/lake/fresh.bin`;
    const res = await fetch(url, { headers: await signedHeaders(url, 'GET') });
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 3000);
    const id = res.headers.get('x-amz-request-id');
    assert.ok(id, 'x-amz-request-id');
    const gatewayLine = await waitFor("the gateway's s3_request line", async () =>
      lines(gateway.stderr()).find((l) => l.event === 's3_request' && l.requestId === id),
    );
    assert.equal(gatewayLine.operation, 'GetObject');
    assert.equal(gatewayLine.status, '200');
    const found = await waitFor("the worker's rpc_request and store_call lines", async () => {
      for (const w of workers) {
        const mine = lines(w.stderr()).filter((l) => l.requestId === id);
        const rpc = mine.filter((l) => l.event === 'rpc_request');
        const store = mine.filter((l) => l.event === 'store_call');
        if (rpc.some((l) => l.route === 'read') && store.some((l) => l.op === 'read')) return { rpc, store };
      }
      return undefined;
    });
    const read = found.store.find((l) => l.op === 'read')!;
    assert.equal(read.path, '/fresh.bin');
    assert.equal(read.store, pathToFileURL(clusterUfs).toString());
    // Nothing else carries this id: ids are per request.
    for (const w of workers)
      for (const l of lines(w.stderr()))
        if (l.requestId === id)
          assert.ok(['rpc_request', 'store_call'].includes(l.event!), JSON.stringify(l));
    const other = await fetch(url, { headers: await signedHeaders(url, 'GET') });
    await other.arrayBuffer();
    assert.notEqual(other.headers.get('x-amz-request-id'), id);
  });

  test("PromQL answers the cluster hit ratio (and strata local's) exactly as driven", async () => {
    const inCluster = await drive(cluster, '/hot');
    const inLocal = await drive(localFs, '/hot');
    // Every target scraped after the reads ended: its samples hold all of them.
    const drivenAt = Date.now() / 1000;
    await waitFor(
      'a scrape of every target after the reads',
      async () => ((await prometheus.value('min(timestamp(up))')) ?? 0) > drivenAt,
      30_000,
    );
    const ratio = (selector: string) =>
      `sum(strata_cache_hit_bytes_total{${selector}}) / (sum(strata_cache_hit_bytes_total{${selector}}) + sum(strata_cache_miss_bytes_total{${selector}}))`;
    const expected = (d: { hits: number; misses: number }) => d.hits / (d.hits + d.misses);

    const clusterRatio = await prometheus.value(ratio('job="cluster",mount="/hot"'));
    assert.ok(clusterRatio !== undefined);
    assert.ok(
      Math.abs(clusterRatio - expected(inCluster)) < 1e-12,
      `cluster hit ratio ${clusterRatio}, driven ${expected(inCluster)}`,
    );
    assert.equal(
      await prometheus.value('sum(strata_cache_miss_bytes_total{job="cluster",mount="/hot"})'),
      inCluster.misses,
    );
    assert.equal(
      await prometheus.value('sum(strata_cache_hit_bytes_total{job="cluster",mount="/hot"})'),
      inCluster.hits,
    );
    // Spread over the workers (each path has one owner): more than one worker served misses.
    const perWorker = await prometheus.query(
      'sum by (instance) (strata_cache_miss_bytes_total{job="cluster",mount="/hot"})',
    );
    assert.ok(perWorker.length >= 2, JSON.stringify(perWorker));

    const localRatio = await prometheus.value(ratio('job="local"'));
    assert.ok(localRatio !== undefined);
    assert.ok(
      Math.abs(localRatio - expected(inLocal)) < 1e-12,
      `local ${localRatio} vs ${expected(inLocal)}`,
    );
    // Prometheus' answer is the live counters' answer.
    assert.equal(
      await prometheus.value('sum(strata_cache_hit_bytes_total{job="local"})'),
      await metric(local.ready.addresses.admin!, 'strata_cache_hit_bytes_total'),
    );

    // The dashboard's form, a rate over a window: Prometheus extrapolates each worker's samples
    // to the window's edges by up to half a scrape interval (1 s) over the ~10–20 s those series
    // have existed, a factor that differs per worker; ±0.1 bounds that spread, and still tells
    // the series apart from ones born with their first reads (measured 0.63 against 0.49 then).
    const rate = (m: string) => `sum(rate(${m}{job="cluster",mount="/hot"}[1m]))`;
    const windowed = await prometheus.value(
      `${rate('strata_cache_hit_bytes_total')} / (${rate('strata_cache_hit_bytes_total')} + ${rate('strata_cache_miss_bytes_total')})`,
    );
    assert.ok(
      windowed !== undefined && Math.abs(windowed - expected(inCluster)) < 0.1,
      `windowed ratio ${windowed}, driven ${expected(inCluster)}`,
    );

    // Latency quantiles from the request histograms.
    const p99 = await prometheus.value(
      'histogram_quantile(0.99, sum by (le) (strata_rpc_request_duration_seconds_bucket{job="cluster",route="read"}))',
    );
    assert.ok(p99 !== undefined && p99 > 0 && p99 <= 30, `RPC read p99 ${p99}`);
    const s3Gets = await prometheus.value(
      'sum(strata_s3_request_duration_seconds_count{job="gateway",operation="GetObject",status="200"})',
    );
    assert.equal(s3Gets, 2);
  });

  test("every Grafana query runs on Prometheus; its worker series are on a worker's /metrics", async () => {
    const workerFamilies = await liveFamilies(workers[0]!.ready.addresses.admin);
    const notOnWorkers = /^strata_(s3|fuse|job|jobs|scheduler)_|^strata_jobs$/;
    const queries = await dashboardQueries();
    for (const q of queries) {
      for (const name of metricNames(q.expr)) {
        if (notOnWorkers.test(name)) continue;
        assert.ok(familyOf(name, workerFamilies), `${q.panel}: ${name} is not on a worker's /metrics`);
      }
      // Fails on any PromQL error (the result may be empty: no FUSE here, no jobs ran).
      await prometheus.query(substituteGrafana(q.expr));
    }
    // After the reads above these panels show data, once Prometheus has two samples of a series
    // born with the last requests (a rate needs two): polled, with a deadline.
    for (const panel of [
      'Cache hit ratio (bytes)',
      'Hit ratio by mount',
      'Throughput: cache and stores',
      'Tier use',
      'Worker RPC calls by route',
      'S3 requests by operation',
      'Store calls by operation',
      'Resident memory',
    ]) {
      const exprs = queries.filter((q) => q.panel === panel).map((q) => substituteGrafana(q.expr));
      assert.ok(exprs.length > 0, `no panel "${panel}"`);
      await waitFor(`data in panel "${panel}"`, async () => {
        for (const e of exprs) if ((await prometheus.query(e)).length === 0) return false;
        return true;
      });
    }
  });
});
