/**
 * S3 gateway benchmark (issue 5). Baseline: Debian nginx with proxy_cache + slice 1m in front of
 * the same origin (a plain nginx serving the files). Strata mounts that origin read-only
 * (http:// under-store) at /bench and serves it through the gateway inside the worker's process,
 * as `strata local` runs it (one row repeats the 4 KiB test with `strata gateway s3` as its own
 * process, one RPC hop more); every request to the gateway is SigV4-signed (a presigned URL). Whole-object GETs (cold,
 * warm, remote) are timed with curl on both sides; the 4 KiB and listing rows use undici.
 *
 *   warm GET throughput of one big object    ÷ nginx proxy_cache hit   (target ≥ 1.0)
 *   4 KiB GETs at 64 concurrent, warm        ÷ nginx proxy_cache hit   (target ≥ 0.5)
 *   cold GET time                            ÷ direct GET from origin  (target ≤ 1.1), from the
 *     local nginx origin (sendfile on the same 2 cores; a bare streaming proxy shows the floor
 *     for any process in between) and from the remote origin (what a cache is deployed for)
 *   warm ListObjectsV2 over N keys (paged)   vs ListObjectsV2 of the S3 origin (target ≥ 50×)
 *   remote origin (20 ms RTT, 200 Mbit/s userspace proxy): warm GET ÷ direct GET via the proxy (≥ 30×)
 *
 * Listing baseline: a real object store. A single-node OpenStack Swift with its s3api layer
 * (test/helpers/swift.ts) holds bucket `listbench` with the empty objects many/k0000000…; Strata
 * mounts it (s3:// under-store, mounted at runtime over the worker RPC because mount flags carry
 * no connector options) at /listbench. Both sides are listed the same way: every page of
 * ListObjectsV2, 1,000 keys a page, presigned raw requests over one keep-alive agent. Strata warm =
 * best of 10 after six warm-up listings (steady state); origin = best of 3. The same listing of Swift through the
 * 20 ms / 200 Mbit/s proxy, and one nginx autoindex JSON listing of a directory of `--keys` files
 * (the old baseline, not an S3 listing), are informational rows.
 *
 * The S3 key count is its own option, `--s3-keys` (default: `--keys`, 100,000). The Swift side's
 * objects are rows written into its container database (populateSwift), as real PUTs would take
 * ~14 minutes at the ~120 objects/s Swift manages here.
 *
 * Usage: node dist/bench/s3-gateway.js [--size-mib 1024] [--keys 100000] [--s3-keys 10000]
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { getSigningKey } from '@smithy/signature-v4';
import { Agent, request } from 'undici';
import { connect } from '../src/client/connect.js';
import { ACCESS_KEY, SECRET_KEY } from '../test/gateway/harness.js';
import { Sha256 } from '../test/gateway/sign.js';
import { REPO_ROOT, tempDir } from '../test/helpers/local-process.js';
import { startNginx } from '../test/helpers/nginx.js';
import { createBucket, type SwiftS3, startSwiftS3 } from '../test/helpers/swift.js';
import {
  bestCurl,
  curlSeconds,
  presign,
  sparseFile,
  startCachingNginx,
  startDelayProxy,
  startPassthrough,
} from './http-tools.js';
import { printTable, type Row, saveResults } from './report.js';

const MiB = 1024 * 1024;
const agent = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });

async function get(url: string, expect?: number, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers, dispatcher: agent });
  // 'data' events, not for await: the async iterator's promise per 64 KiB chunk capped this
  // client near 0.7–1.3 GB/s, below what either server sends (curl read a warm 64 MiB GET in
  // ~23 ms from both Strata and nginx, undici with for await in 50–100 ms).
  const n = await new Promise<number>((ok, fail) => {
    let bytes = 0;
    res.body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    res.body.once('end', () => ok(bytes));
    res.body.once('error', fail);
  });
  if (res.statusCode >= 300) throw new Error(`GET ${url} → ${res.statusCode}`);
  if (expect !== undefined && n !== expect)
    throw new Error(`GET ${url} returned ${n} bytes, expected ${expect}`);
  return n;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function best(n: number, fn: () => Promise<unknown>): Promise<number> {
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) b = Math.min(b, await timeIt(fn));
  return b;
}

async function rate(n: number, concurrency: number, op: () => Promise<unknown>): Promise<number> {
  let left = n;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await op();
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

/**
 * A SigV4 query-string presigner for the listing rows, as a compiled client signs: the signing
 * key derived once per day (@smithy's getSigningKey), then one SHA-256 and one HMAC per URL
 * (~10 µs). @smithy's presign() costs 0.2–0.3 ms a call here, a third of a warm Strata page,
 * which squeezed the listing ratio towards 1 without saying anything about either server. The
 * same signer serves both sides.
 */
function listingPresigner(accessKeyId: string, secretAccessKey: string, region: string) {
  const enc = (v: string) =>
    encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  let keyDate = '';
  let key: Uint8Array = new Uint8Array();
  return async (base: string, path: string, query: Record<string, string>): Promise<string> => {
    const u = new URL(base);
    const amzDate = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    if (day !== keyDate) {
      key = await getSigningKey(Sha256, { accessKeyId, secretAccessKey }, day, region, 's3');
      keyDate = day;
    }
    const scope = `${day}/${region}/s3/aws4_request`;
    const params: Record<string, string> = {
      ...query,
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD',
      'X-Amz-Credential': `${accessKeyId}/${scope}`,
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': '3600',
      'X-Amz-SignedHeaders': 'host',
    };
    const qs = Object.keys(params)
      .sort()
      .map((k) => `${enc(k)}=${enc(params[k]!)}`)
      .join('&');
    const canonical = `GET\n${path}\n${qs}\nhost:${u.host}\n\nhost\nUNSIGNED-PAYLOAD`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    return `${base}${path}?${qs}&X-Amz-Signature=${createHmac('sha256', key).update(toSign).digest('hex')}`;
  };
}
type Presigner = ReturnType<typeof listingPresigner>;

const xmlText = (s: string) =>
  s.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!,
  );

/**
 * Every page of ListObjectsV2 (1,000 keys a page, as S3 clients page) of `bucket`/`prefix` at
 * `base`, each page a presigned GET signed by `sign`. Fails unless exactly `expect` keys come back.
 */
async function listAll(
  base: string,
  bucket: string,
  prefix: string,
  sign: Presigner,
  expect: number,
): Promise<{ pages: number }> {
  let token: string | undefined;
  let n = 0;
  let pages = 0;
  do {
    const q: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': '1000' };
    if (token) q['continuation-token'] = token;
    const res = await request(await sign(base, `/${bucket}`, q), { dispatcher: agent });
    const text = await res.body.text();
    if (res.statusCode !== 200)
      throw new Error(`ListObjectsV2 ${base}/${bucket} → ${res.statusCode}: ${text}`);
    let onPage = 0; // counted with indexOf: the client's own cost is the same on both sides but
    for (let at = text.indexOf('<Key>'); at >= 0; at = text.indexOf('<Key>', at + 5)) onPage++; // small
    if (onPage > 1000) throw new Error(`${base}/${bucket}: ${onPage} keys on one page (max-keys 1000)`);
    n += onPage;
    pages++;
    const next = /<NextContinuationToken>([^<]+)</.exec(text)?.[1];
    token = next === undefined ? undefined : xmlText(next);
  } while (token);
  if (n !== expect) throw new Error(`${base}/${bucket}: listed ${n} of ${expect} keys`);
  return { pages };
}

/**
 * Lists `n` empty objects many/k0000000… in Swift container `container` (= the s3api bucket): the
 * rows go straight into the container database with Swift's own ContainerBroker
 * (bench/swift_listing_rows.py). A listing reads only that database, so it lists them exactly as
 * objects PUT one by one; PUTs run at only ~110–145 objects/s here (one CPU-bound Swift process,
 * whatever the method), which made 100,000 keys a 14-minute setup.
 */
async function populateSwift(swift: SwiftS3, container: string, n: number): Promise<void> {
  const script = join(REPO_ROOT, 'bench', 'swift_listing_rows.py');
  const out = await new Promise<string>((ok, fail) => {
    const child = spawn('/usr/bin/python3', [script, swift.devices, container, String(n)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.once('error', fail);
    child.once('exit', (code) =>
      code === 0 ? ok(text) : fail(new Error(`${script} exited ${code}: ${err}`)),
    );
  });
  if (Number(out.trim()) !== n)
    throw new Error(`Swift container ${container} holds ${out.trim()} rows, not ${n}`);
}

/** `strata gateway s3` as its own process, talking to the worker over the RPC. */
async function startGateway(registry: string): Promise<{ url: string; stop(): Promise<void> }> {
  const script = `import { runS3Gateway } from '${REPO_ROOT}/dist/src/gateway/s3/index.js'; process.exit(await runS3Gateway(process.argv.slice(1)));`;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, '--', '--registry', registry, '--port', '0'],
    {
      env: { ...process.env, STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((ok) => createInterface({ input: child.stdout! }).once('line', ok));
  return {
    url: (JSON.parse(line) as { addresses: { s3: string } }).addresses.s3,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A child process running `strata local`'s worker with the S3 gateway on node.fs (no RPC hop). */
async function startLocalWithGateway(
  dataDir: string,
  memory: string,
  mounts: string[],
): Promise<{ url: string; registry: string; stop(): Promise<void> }> {
  const script = `
    import { loadServerConfig } from '${REPO_ROOT}/dist/src/core/config.js';
    import { startLocal } from '${REPO_ROOT}/dist/src/server/local.js';
    import { startS3GatewayServer } from '${REPO_ROOT}/dist/src/gateway/s3/index.js';
    const [dataDir, memory, ...mounts] = process.argv.slice(1);
    const config = await loadServerConfig({ dataDir, port: '0', memoryCapacity: memory, mounts });
    const local = await startLocal(config);
    const gw = await startS3GatewayServer(local.node.fs, {
      credentials: new Map([[process.env.STRATA_S3_ACCESS_KEY_ID, process.env.STRATA_S3_SECRET_ACCESS_KEY]]),
      port: 0,
    });
    process.stdout.write(JSON.stringify({ ready: true, addresses: { ...local.ready.addresses, s3: gw.url } }) + '\\n');
    process.once('SIGTERM', async () => { await gw.close(); await local.stop(); process.exit(0); });
  `;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, '--', dataDir, memory, ...mounts],
    {
      env: {
        ...process.env,
        STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
        STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
        STRATA_LOG: 'error',
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((ok) =>
    lines.on('line', (l) => {
      if (l.includes('"ready":true')) ok(l);
    }),
  );
  return {
    url: (JSON.parse(line) as { addresses: { s3: string } }).addresses.s3,
    registry: (JSON.parse(line) as { addresses: { registry: string } }).addresses.registry,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function runS3GatewayBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-mib': { type: 'string' },
      keys: { type: 'string' },
      's3-keys': { type: 'string' },
      'remote-mib': { type: 'string' },
    },
    strict: false,
  });
  const sizeMiB = Number(values['size-mib'] ?? 1024);
  const keys = Number(values.keys ?? 100_000);
  const s3Keys = Number(values['s3-keys'] ?? keys);
  const remoteMiB = Number(values['remote-mib'] ?? 64);
  const tmp = await tempDir('s3bench');
  const stops: (() => Promise<unknown>)[] = [];
  const rows: Row[] = [];
  try {
    const originDir = join(tmp.dir, 'origin');
    await mkdir(join(originDir, 'small'), { recursive: true });
    await mkdir(join(originDir, 'many'), { recursive: true });
    await sparseFile(join(originDir, 'big.bin'), sizeMiB * MiB);
    const coldBytes = Math.min(sizeMiB, 256) * MiB;
    await sparseFile(join(originDir, 'cold.bin'), coldBytes);
    await sparseFile(join(originDir, 'remote.bin'), remoteMiB * MiB);
    await sparseFile(join(originDir, 'remote-cold.bin'), remoteMiB * MiB);
    const small = Buffer.alloc(4096, 's');
    await Promise.all(
      Array.from({ length: 64 }, (_, i) => writeFile(join(originDir, 'small', `f${i}`), small)),
    );
    for (let i = 0; i < keys; i += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, keys - i) }, (_, j) =>
          writeFile(join(originDir, 'many', `k${String(i + j).padStart(7, '0')}`), ''),
        ),
      );
    }
    const origin = await startNginx(originDir);
    stops.push(() => origin.stop());
    const cache = await startCachingNginx(origin.url, join(tmp.dir, 'nginx-cache'));
    stops.push(() => cache.stop());
    const proxy = await startDelayProxy(origin.url, 10, 25_000_000);
    stops.push(() => proxy.stop());

    // The S3 origin of the listing rows: Swift + s3api, bucket `listbench` with s3Keys empty objects.
    const swift = await startSwiftS3();
    stops.push(() => swift.stop());
    const swiftRemote = await startDelayProxy(swift.endpoint, 10, 25_000_000);
    stops.push(() => swiftRemote.stop());
    await createBucket(swift, 'listbench');
    const populate = await timeIt(() => populateSwift(swift, 'listbench', s3Keys));
    process.stderr.write(
      `S3 origin (Swift s3api, up in ${(swift.startupMs / 1000).toFixed(1)} s): ${s3Keys} keys listed in its container database in ${populate.toFixed(1)} s\n`,
    );
    // The gateway inside `strata local` (same process as the worker, as `strata local` runs it).
    const gw = await startLocalWithGateway(join(tmp.dir, 'strata'), `${sizeMiB + 512}MiB`, [
      `/bench=${origin.url}/`,
      `/remote=${proxy.url}/`,
    ]);
    stops.push(() => gw.stop());
    // Mount flags (PATH=URI) carry no connector options, so the Swift bucket is mounted over the RPC.
    const client = await connect(gw.registry);
    try {
      await client.mount('/listbench', 's3://listbench', {
        options: {
          endpoint: swift.endpoint,
          region: swift.region,
          accessKeyId: swift.accessKeyId,
          secretAccessKey: swift.secretAccessKey,
        },
      });
    } finally {
      await client.close();
    }

    // 1. big object: cold (first) GET vs direct origin, then warm vs nginx hit.
    const coldUrl = await presign(gw.url, '/bench/cold.bin');
    const coldStrata = await curlSeconds(coldUrl, coldBytes);
    const coldDirect = await bestCurl(3, `${origin.url}/cold.bin`, coldBytes);
    rows.push({
      metric: `cold GET ${Math.min(sizeMiB, 256)} MiB (time)`,
      strata: `${coldStrata.toFixed(3)} s`,
      baseline: `${coldDirect.toFixed(3)} s direct from origin`,
      ratio: coldStrata / coldDirect,
      target: '≤ 1.1',
      ok: coldStrata / coldDirect <= 1.1,
    });
    // The floor for any process in the path: a bare streaming proxy (undici → node:http, nothing
    // cached, nothing checked) moves the same bytes over loopback twice on the same two cores.
    const passthrough = await startPassthrough(origin.url);
    stops.push(() => passthrough.stop());
    const bare = await bestCurl(3, `${passthrough.url}/cold.bin`, coldBytes);
    rows.push({
      metric: `cold GET ${Math.min(sizeMiB, 256)} MiB via a bare streaming proxy (time)`,
      strata: `${bare.toFixed(3)} s (no Strata)`,
      baseline: `${coldDirect.toFixed(3)} s direct from origin`,
      ratio: bare / coldDirect,
      target: '(info)',
      ok: true,
    });
    const bigUrl = await presign(gw.url, '/bench/big.bin');
    await curlSeconds(bigUrl, sizeMiB * MiB);
    await curlSeconds(`${cache.url}/big.bin`, sizeMiB * MiB);
    await curlSeconds(`${cache.url}/big.bin`, sizeMiB * MiB);
    const warmStrata = await bestCurl(3, bigUrl, sizeMiB * MiB);
    const warmNginx = await bestCurl(3, `${cache.url}/big.bin`, sizeMiB * MiB);
    const gbps = (s: number) => `${((sizeMiB * MiB) / s / 1e9).toFixed(2)} GB/s`;
    rows.push({
      metric: `warm GET ${sizeMiB} MiB (throughput)`,
      strata: gbps(warmStrata),
      baseline: `${gbps(warmNginx)} nginx proxy_cache hit`,
      ratio: warmNginx / warmStrata,
      target: '≥ 1.0',
      ok: warmNginx / warmStrata >= 1.0,
    });

    // 2. 4 KiB GETs at 64 concurrent.
    const smallUrls = await Promise.all(
      Array.from({ length: 64 }, (_, i) => presign(gw.url, `/bench/small/f${i}`)),
    );
    for (const u of smallUrls) await get(u);
    for (let i = 0; i < 64; i++) await get(`${cache.url}/small/f${i}`);
    let si = 0;
    let ni = 0;
    // Alternating rounds, best of each side: load from anything else on the two cores hits
    // both sides alike instead of whichever ran at the wrong moment.
    let strataRate = 0;
    let nginxRate = 0;
    for (let round = 0; round < 3; round++) {
      await rate(2000, 64, () => get(smallUrls[si++ % 64]!));
      strataRate = Math.max(strataRate, await rate(20000, 64, () => get(smallUrls[si++ % 64]!)));
      await rate(2000, 64, () => get(`${cache.url}/small/f${ni++ % 64}`));
      nginxRate = Math.max(nginxRate, await rate(20000, 64, () => get(`${cache.url}/small/f${ni++ % 64}`)));
    }
    rows.push({
      metric: '4 KiB GET, 64 concurrent (req/s)',
      strata: `${strataRate.toFixed(0)}/s`,
      baseline: `${nginxRate.toFixed(0)}/s nginx hit`,
      ratio: strataRate / nginxRate,
      target: '≥ 0.5',
      ok: strataRate / nginxRate >= 0.5,
    });

    // The same with `strata gateway s3` as its own process (one worker-RPC hop more).
    const separate = await startGateway(gw.registry);
    stops.push(() => separate.stop());
    const sepUrls = await Promise.all(
      Array.from({ length: 64 }, (_, i) => presign(separate.url, `/bench/small/f${i}`)),
    );
    await rate(2000, 64, () => get(sepUrls[si++ % 64]!));
    const sepRate = await rate(20000, 64, () => get(sepUrls[si++ % 64]!));
    rows.push({
      metric: '4 KiB GET, 64 concurrent, gateway as own process',
      strata: `${sepRate.toFixed(0)}/s`,
      baseline: `${nginxRate.toFixed(0)}/s nginx hit`,
      ratio: sepRate / nginxRate,
      target: '(info)',
      ok: true,
    });

    // 3. listing: every page of ListObjectsV2 (1,000 keys each), Strata warm vs the S3 origin's own.
    const gwSign = listingPresigner(ACCESS_KEY, SECRET_KEY, 'us-east-1');
    const swiftSign = listingPresigner(swift.accessKeyId, swift.secretAccessKey, swift.region);
    // Warm means steady state: the first listing loads the cache, five more let the JIT compile
    // the listing path (best of 3 right after one priming run measured 2–3× slower per page).
    for (let i = 0; i < 6; i++) await listAll(gw.url, 'listbench', 'many/', gwSign, s3Keys);
    const listStrataS3 = await best(10, () => listAll(gw.url, 'listbench', 'many/', gwSign, s3Keys));
    let originPages = 0;
    const listSwift = await best(3, async () => {
      originPages = (await listAll(swift.endpoint, 'listbench', 'many/', swiftSign, s3Keys)).pages;
    });
    const listSwiftRemote = await best(1, () =>
      listAll(swiftRemote.url, 'listbench', 'many/', swiftSign, s3Keys),
    );
    rows.push({
      metric: `warm ListObjectsV2, ${s3Keys} keys (all pages) vs S3 origin ListObjectsV2 (all pages)`,
      strata: `${listStrataS3.toFixed(3)} s`,
      baseline: `${listSwift.toFixed(3)} s Swift s3api, ${originPages} pages of 1,000`,
      ratio: listSwift / listStrataS3,
      target: '≥ 50',
      ok: listSwift / listStrataS3 >= 50,
    });
    rows.push({
      metric: `warm ListObjectsV2, ${s3Keys} keys vs S3 origin via 20 ms/200 Mbit/s proxy`,
      strata: `${listStrataS3.toFixed(3)} s`,
      baseline: `${listSwiftRemote.toFixed(3)} s Swift s3api through the proxy`,
      ratio: listSwiftRemote / listStrataS3,
      target: '(info)',
      ok: true,
    });

    // The old baseline, not an S3 listing: one unpaginated nginx autoindex JSON listing of a dir.
    for (let i = 0; i < 3; i++) await listAll(gw.url, 'bench', 'many/', gwSign, keys);
    const listStrata = await best(5, () => listAll(gw.url, 'bench', 'many/', gwSign, keys));
    const listOrigin = await best(3, async () => {
      const res = await request(`${origin.url}/many/`, { dispatcher: agent });
      const body = (await res.body.json()) as unknown[];
      if (body.length !== keys) throw new Error(`origin listed ${body.length}`);
    });
    const listRemote = await best(1, async () => {
      const res = await request(`${proxy.url}/many/`, { dispatcher: agent });
      await res.body.json();
    });
    rows.push({
      metric: `warm ListObjectsV2, ${keys} keys (all pages) vs one nginx JSON listing`,
      strata: `${listStrata.toFixed(3)} s`,
      baseline: `${listOrigin.toFixed(3)} s one nginx JSON listing (local origin)`,
      ratio: listOrigin / listStrata,
      target: '(info)',
      ok: true,
    });
    rows.push({
      metric: `warm ListObjectsV2, ${keys} keys vs remote nginx JSON listing`,
      strata: `${listStrata.toFixed(3)} s`,
      baseline: `${listRemote.toFixed(3)} s one listing through the 20 ms/200 Mbit/s proxy`,
      ratio: listRemote / listStrata,
      target: '(info)',
      ok: true,
    });

    // 4. remote origin through the delay proxy.
    const remoteColdUrl = await presign(gw.url, '/remote/remote-cold.bin');
    const remoteCold = await curlSeconds(remoteColdUrl, remoteMiB * MiB);
    const remoteColdDirect = await curlSeconds(`${proxy.url}/remote-cold.bin`, remoteMiB * MiB);
    rows.push({
      metric: `cold GET ${remoteMiB} MiB, remote origin (20 ms RTT, 200 Mbit/s) (time)`,
      strata: `${remoteCold.toFixed(3)} s`,
      baseline: `${remoteColdDirect.toFixed(3)} s direct via proxy`,
      ratio: remoteCold / remoteColdDirect,
      target: '≤ 1.1',
      ok: remoteCold / remoteColdDirect <= 1.1,
    });
    const remoteUrl = await presign(gw.url, '/remote/remote.bin');
    await curlSeconds(remoteUrl, remoteMiB * MiB);
    const remoteWarm = await bestCurl(3, remoteUrl, remoteMiB * MiB);
    const remoteDirect = await curlSeconds(`${proxy.url}/remote.bin`, remoteMiB * MiB);
    rows.push({
      metric: `remote origin (20 ms RTT, 200 Mbit/s) GET ${remoteMiB} MiB`,
      strata: `${remoteWarm.toFixed(3)} s warm`,
      baseline: `${remoteDirect.toFixed(3)} s direct via proxy`,
      ratio: remoteDirect / remoteWarm,
      target: '≥ 30',
      ok: remoteDirect / remoteWarm >= 30,
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await agent.close();
    await rm(tmp.dir, { recursive: true, force: true });
  }
  return rows;
}

/** A small horizontal bar chart of the ratios against their targets. */
export function svgChart(title: string, rows: readonly Row[]): string {
  const w = 760;
  const rowH = 34;
  const h = 50 + rows.length * rowH;
  const max = Math.max(2, ...rows.map((r) => Math.log10(Math.max(r.ratio, 0.01)) + 2));
  const x = (v: number) => 300 + ((Math.log10(Math.max(v, 0.01)) + 2) / max) * (w - 320);
  const bars = rows
    .map((r, i) => {
      const y = 40 + i * rowH;
      const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
      return `<text x="5" y="${y + 16}" font-size="11">${esc(r.metric)}</text><rect x="300" y="${y + 4}" width="${Math.max(1, x(r.ratio) - 300)}" height="16" fill="${r.ok ? '#3a7' : '#d54'}"/><text x="${x(r.ratio) + 4}" y="${y + 16}" font-size="11">${r.ratio.toFixed(2)} (${esc(r.target)})</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><text x="5" y="20" font-size="14">${title} (ratio, log scale)</text>${bars}</svg>`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runS3GatewayBench();
  printTable(`Strata S3 gateway benchmark (${new Date().toISOString()})`, rows);
  const file = await saveResults('s3-gateway', rows);
  const svg = file.replace(/\.json$/, '.svg');
  await writeFile(svg, svgChart('S3 gateway vs baselines', rows));
  process.stdout.write(`\nresults: ${file}\nchart: ${svg}\n`);
}
