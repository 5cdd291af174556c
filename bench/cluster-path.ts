/**
 * Cluster read path benchmark (issue 15 item 6): the S3 gateway as its own process in front of
 * workers, against the gateway inside `strata local`, and short-circuit reads against in-process
 * reads. Ratios from one run:
 *
 *   4 KiB GETs/s: `strata gateway s3` + 3 `strata worker`s (etcd) ÷ `strata local`'s gateway  (≥ 0.7)
 *   1 GiB warm GET: the same two sides, time ratio as throughput                              (≥ 0.8)
 *   co-located short-circuit warm read ÷ in-process read, copying consumer                    (≥ 0.5)
 *
 * Both gateway sides serve the same bucket (`data`, a file:// store mounted at /data) with the
 * same worker flags (--memory-capacity, default 1536 MiB; the default 4 GiB disk tier), every
 * request a SigV4 presigned URL for the same keys. 4 KiB GETs: Debian `wrk` (-t2 -c64, a Lua
 * script cycling over 64 presigned URLs), alternating sides, best of the rounds. 1 GiB: curl
 * (-o /dev/null -w time_total), best of 3 after two warming GETs. Everything runs on this one
 * machine (its 2 cores shared by wrk, curl and the servers; the workers sit idle while the
 * gateway reads their page files). Informational rows: the same cluster with short-circuit reads
 * and the client metadata cache turned off (STRATA_SHORT_CIRCUIT=false,
 * STRATA_CLIENT_METADATA_LEASE_MS=0: every GET costs a status and a read RPC).
 *
 * Usage: node dist/bench/cluster-path.js [--size-mib 1024] [--rounds 3] [--duration 8]
 *        [--rows all|small|big|short-circuit]
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ClusterFileSystem } from '../src/client/cluster-file-system.js';
import { connect } from '../src/client/connect.js';
import { RELEASE_CHUNK, type ReleasingReadable } from '../src/core/buffer-pool.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { setQuiet } from '../src/core/log.js';
import { startLocal } from '../src/server/local.js';
import { ACCESS_KEY, SECRET_KEY } from '../test/gateway/harness.js';
import { signer } from '../test/gateway/sign.js';
import { type RunningWorker, startWorker } from '../test/helpers/cluster.js';
import { type Daemon, spawnDaemon } from '../test/helpers/daemon.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { STRATA_BIN, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';

const MiB = 1024 * 1024;
const SMALL_KEYS = 64;
const S3_ENV = {
  STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
  STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
  STRATA_LOG: 'error',
};

type S3Ready = { ready: true; addresses: { s3: string } };

async function presign(base: string, path: string): Promise<string> {
  const u = new URL(base);
  const req = await signer().presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path,
      headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: 3600 },
  );
  return `${base}${path}?${new URLSearchParams(req.query as Record<string, string>).toString()}`;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** Seconds curl took for a whole GET; fails unless it got `expect` bytes with 200. */
async function curlSeconds(url: string, expect: number): Promise<number> {
  const out = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{size_download} %{time_total}',
    url,
  ]);
  const [code, size, secs] = out.trim().split(' ');
  if (code !== '200' || Number(size) !== expect) throw new Error(`GET ${url}: HTTP ${code}, ${size} bytes`);
  return Number(secs);
}

async function bestCurl(n: number, url: string, expect: number): Promise<number> {
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) b = Math.min(b, await curlSeconds(url, expect));
  return b;
}

/** wrk over the URLs (same host), cycling; requests/s. Fails on any non-2xx answer. */
async function wrkRate(dir: string, name: string, urls: string[], seconds: number): Promise<number> {
  const u = new URL(urls[0]!);
  const paths = urls.map((x) => {
    const p = new URL(x);
    return `${p.pathname}${p.search}`;
  });
  const script = join(dir, `${name}.lua`);
  await writeFile(
    script,
    `local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n`,
  );
  const out = await run('wrk', ['-t2', '-c64', `-d${seconds}`, '-s', script, `${u.origin}/`]);
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`no Requests/sec in wrk output:\n${out}`);
  return Number(m[1]);
}

export async function runClusterPathBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-mib': { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'memory-capacity': { type: 'string' },
      rows: { type: 'string' },
    },
    strict: false,
  });
  const sizeMiB = Number(values['size-mib'] ?? 1024);
  const rounds = Number(values.rounds ?? 3);
  const duration = Number(values.duration ?? 8);
  const memory = String(values['memory-capacity'] ?? '1536MiB');
  // all (default), or one group: small (4 KiB wrk), big (1 GiB curl), short-circuit.
  const only = String(values.rows ?? 'all');
  const want = (group: string) => only === 'all' || only === group;
  setQuiet(true);
  const tmp = await tempDir('bench-cluster-path');
  const ufs = join(tmp.dir, 'ufs');
  const stops: (() => Promise<unknown>)[] = [];
  const rows: Row[] = [];
  try {
    if (only === 'short-circuit') {
      rows.push(...(await shortCircuitRows(tmp.dir, Math.min(sizeMiB, 256), rounds)));
      return rows;
    }
    await mkdir(join(ufs, 'small'), { recursive: true });
    for (let i = 0; i < SMALL_KEYS; i++) await writeFile(join(ufs, 'small', `f${i}`), Buffer.alloc(4096, i));
    const big = Buffer.alloc(MiB);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    {
      const { open } = await import('node:fs/promises');
      const fh = await open(join(ufs, 'big.bin'), 'w');
      for (let i = 0; i < sizeMiB; i++) await fh.write(big);
      await fh.close();
    }
    const bigBytes = sizeMiB * MiB;
    const mountUri = pathToFileURL(ufs).toString();
    const workerFlags = ['--memory-capacity', memory];

    // Side 1: `strata local` (worker and gateway in one process).
    const local: Daemon<S3Ready> = await spawnDaemon<S3Ready>(
      process.execPath,
      [
        STRATA_BIN,
        'local',
        '--data-dir',
        join(tmp.dir, 'local'),
        '--port',
        '0',
        '--s3-port',
        '0',
        '--mount',
        `/data=${mountUri}`,
        ...workerFlags,
      ],
      { env: S3_ENV, what: 'strata local' },
    );
    stops.push(() => local.stop());

    // Side 2: etcd, 3 workers, `strata gateway s3` as its own process; and the same without the fast path.
    const etcd = await startEtcd();
    stops.push(() => etcd.stop());
    const workers: RunningWorker[] = [];
    for (let i = 0; i < 3; i++) {
      const w = await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, `w${i}`), ...workerFlags], {
        STRATA_LOG: 'error',
      });
      workers.push(w);
      stops.push(() => w.stop());
    }
    const admin = await connect(etcd.uri);
    stops.push(() => admin.close());
    for (let t = 0; admin.location('/x').length < 3; t++) {
      if (t > 200) throw new Error('3 workers did not join the ring');
      await new Promise((ok) => setTimeout(ok, 50));
    }
    await admin.mount('/data', mountUri);
    const gateway = (env: NodeJS.ProcessEnv, nodeArgs: string[] = []) =>
      spawnDaemon<S3Ready>(
        process.execPath,
        [...nodeArgs, STRATA_BIN, 'gateway', 's3', '--registry', etcd.uri, '--port', '0'],
        {
          env: { ...S3_ENV, ...env },
          what: 'strata gateway s3',
        },
      );
    // STRATA_BENCH_PROFILE_DIR: the fast-path gateway writes a CPU profile there when it stops.
    const profileDir = process.env.STRATA_BENCH_PROFILE_DIR;
    const cluster = await gateway({}, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    stops.push(() => cluster.stop());
    const plain = await gateway({ STRATA_SHORT_CIRCUIT: 'false', STRATA_CLIENT_METADATA_LEASE_MS: '0' });
    stops.push(() => plain.stop());

    const sides = {
      local: local.ready.addresses.s3,
      cluster: cluster.ready.addresses.s3,
      plain: plain.ready.addresses.s3,
    };
    const smallUrls: Record<string, string[]> = {};
    for (const [name, base] of Object.entries(sides)) {
      smallUrls[name] = await Promise.all(
        Array.from({ length: SMALL_KEYS }, (_, i) => presign(base, `/data/small/f${i}`)),
      );
      // Warm: the first GETs load statuses and pages (and the cluster gateway's caches).
      for (let k = 0; k < 2; k++) for (const u of smallUrls[name]!) await curlSeconds(u, 4096);
    }
    const rates: Record<string, number> = { local: 0, cluster: 0, plain: 0 };
    for (let r = 0; r < (want('small') ? rounds : 0); r++) {
      for (const name of ['local', 'cluster', 'plain'])
        rates[name] = Math.max(rates[name]!, await wrkRate(tmp.dir, name, smallUrls[name]!, duration));
    }
    if (want('small'))
      rows.push(
        row(
          '4 KiB GETs/s (wrk -c64): gateway process + 3 workers ÷ gateway in strata local',
          `${rates.cluster!.toFixed(0)}/s`,
          `${rates.local!.toFixed(0)}/s`,
          rates.cluster! / rates.local!,
          { min: 0.7 },
        ),
      );
    if (want('small'))
      rows.push(
        row(
          '4 KiB GETs/s: same, without metadata cache and short-circuit (info)',
          `${rates.plain!.toFixed(0)}/s`,
          `${rates.local!.toFixed(0)}/s`,
          rates.plain! / rates.local!,
        ),
      );

    const bigUrls: Record<string, string> = {};
    for (const [name, base] of want('big') ? Object.entries(sides) : []) {
      bigUrls[name] = await presign(base, '/data/big.bin');
      await curlSeconds(bigUrls[name]!, bigBytes);
      await curlSeconds(bigUrls[name]!, bigBytes);
    }
    const secs: Record<string, number> = {};
    for (const name of want('big') ? ['local', 'cluster', 'plain'] : [])
      secs[name] = await bestCurl(3, bigUrls[name]!, bigBytes);
    const gbps = (s: number) => `${(bigBytes / s / 1e9).toFixed(2)} GB/s`;
    if (want('big'))
      rows.push(
        row(
          `${sizeMiB} MiB warm GET (curl): gateway process + 3 workers ÷ gateway in strata local`,
          gbps(secs.cluster!),
          gbps(secs.local!),
          secs.local! / secs.cluster!,
          { min: 0.8 },
        ),
      );
    if (want('big'))
      rows.push(
        row(
          `${sizeMiB} MiB warm GET: same, without metadata cache and short-circuit (info)`,
          gbps(secs.plain!),
          gbps(secs.local!),
          secs.local! / secs.plain!,
        ),
      );
    if (want('short-circuit'))
      rows.push(...(await shortCircuitRows(tmp.dir, Math.min(sizeMiB, 256), rounds)));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await tmp.cleanup();
  }
  return rows;
}

/**
 * A short-circuit read against an in-process read of the same warm file, both consumers copying
 * every byte into their own buffer (as a socket or file write would): an in-process `strata
 * local` worker (the file in its memory tier), and a ClusterFileSystem over its RPC on this host
 * reading its page files. Info rows: a worker without a memory tier read in process (it reads
 * and checks the same kind of page files), and the same client read over the RPC.
 */
async function shortCircuitRows(dir: string, sizeMiB: number, rounds: number): Promise<Row[]> {
  const size = sizeMiB * MiB;
  const local = await startLocal({
    ...DEFAULT_CONFIG,
    dataDir: join(dir, 'inproc'),
    port: 0,
    s3Port: -1,
    memoryCapacity: 2 * size,
    diskCapacity: 4 * size,
    mounts: [],
  });
  // The same worker without a memory tier: its in-process reads check disk page files too.
  const diskOnly = await startLocal({
    ...DEFAULT_CONFIG,
    dataDir: join(dir, 'inproc-disk'),
    port: 0,
    s3Port: -1,
    memoryCapacity: 0,
    diskCapacity: 4 * size,
    mounts: [],
  });
  const worker = local.node;
  const address = local.ready.addresses.worker!;
  const directory = {
    listWorkers: async () => [
      {
        id: worker.id,
        address,
        capacityBytes: 6 * size,
        state: 'ACTIVE' as const,
        version: 'bench',
        startedAtMs: Date.now(),
      },
    ],
  };
  // The token: the one this `strata local` published for its address (discovery.ts).
  const sc = await ClusterFileSystem.open(directory, {});
  const rpc = await ClusterFileSystem.open(directory, { shortCircuit: false, metadataLeaseMs: 0 });
  const sink = Buffer.allocUnsafe(MiB);
  // Copies every chunk out, then gives it back as sendStream does once the socket took it
  // (RELEASE_CHUNK, when the stream offers it: both sides' streams may lend pool buffers).
  const copyOut = async (stream: ReleasingReadable) => {
    const release = stream[RELEASE_CHUNK];
    let n = 0;
    for await (const c of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < c.length; i += sink.length) c.copy(sink, 0, i, Math.min(c.length, i + sink.length));
      n += c.length;
      release?.(c);
    }
    if (n !== size) throw new Error(`read ${n} of ${size} bytes`);
  };
  const mibps = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return sizeMiB / ((performance.now() - t) / 1000);
  };
  try {
    const payload = Buffer.alloc(size, 5);
    await worker.fs.write('/bench/sc.bin', Readable.from([payload]), { writeType: 'MUST_CACHE' });
    await waitLocated(sc, '/bench/sc.bin');
    await diskOnly.node.fs.write('/bench/sc.bin', Readable.from([payload]), { writeType: 'MUST_CACHE' });
    const inProcDisk: number[] = [];
    const inProc: number[] = [];
    const short: number[] = [];
    const overRpc: number[] = [];
    for (let r = 0; r < rounds; r++) {
      inProc.push(await mibps(async () => copyOut(await worker.fs.read('/bench/sc.bin'))));
      short.push(await mibps(async () => copyOut(await sc.read('/bench/sc.bin'))));
      overRpc.push(await mibps(async () => copyOut(await rpc.read('/bench/sc.bin'))));
      inProcDisk.push(await mibps(async () => copyOut(await diskOnly.node.fs.read('/bench/sc.bin'))));
    }
    const stats = sc.fastPathStats();
    if (stats.shortCircuitReads < rounds || stats.shortCircuitFallbacks > 0)
      throw new Error(`short-circuit reads did not happen: ${JSON.stringify(stats)}`);
    const best = (xs: number[]) => Math.max(...xs);
    return [
      row(
        `co-located short-circuit warm read ÷ in-process read (copying consumer, ${sizeMiB} MiB)`,
        `${best(short).toFixed(0)} MiB/s`,
        `${best(inProc).toFixed(0)} MiB/s`,
        best(short) / best(inProc),
        { min: 0.5 },
      ),
      row(
        'co-located short-circuit warm read ÷ in-process read of a worker without memory tier (info)',
        `${best(short).toFixed(0)} MiB/s`,
        `${best(inProcDisk).toFixed(0)} MiB/s`,
        best(short) / best(inProcDisk),
      ),
      row(
        'co-located short-circuit warm read ÷ the same read over the RPC (info)',
        `${best(short).toFixed(0)} MiB/s`,
        `${best(overRpc).toFixed(0)} MiB/s`,
        best(short) / best(overRpc),
      ),
    ];
  } finally {
    await sc.close();
    await rpc.close();
    await local.stop();
    await diskOnly.stop();
  }
}

/** Waits until the file's pages are on the worker's disk and the client's change stream is up. */
async function waitLocated(fs: ClusterFileSystem, path: string): Promise<void> {
  for (let t = 0; ; t++) {
    await fs.status(path);
    const stats = fs.fastPathStats();
    const probe = await fs.readBuffer(path, { offset: 0, length: 1 });
    if (probe.length === 1 && stats.liveStreams > 0 && fs.fastPathStats().shortCircuitReads > 0) return;
    if (t > 200) throw new Error(`${path}: short-circuit never became possible`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runClusterPathBench(process.argv.slice(2));
  printTable(`Strata cluster read path benchmark (${new Date().toISOString()})`, rows);
  await saveResults('cluster-path', rows);
}
