/**
 * The S3 soak (issue 16): `strata local` with its defaults under 1,000 concurrent S3 connections
 * for 10 minutes of mixed requests — 70 % GET of 4 KiB objects, 20 % PUT of 4 KiB objects, 10 %
 * ListObjectsV2 — driven by Debian's `wrk` (one 60 s segment a minute, so each minute has its own
 * latency percentiles; connections are opened again each minute). Every request is a presigned
 * URL (SigV4 in the query, UNSIGNED-PAYLOAD), so the load generator signs nothing.
 *
 *   RSS drift: RSS after the last minute ÷ after the first            < 1.10
 *   open fds after the load, once idle connections closed ÷ baseline  = 1 (back to the baseline)
 *   p99 latency of the last minute ÷ the first minute's               ≤ 1.5
 *
 * Usage: npm run bench -- soak   (node dist/bench/soak.js [--minutes 10] [--connections 1000])
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { signer } from '../test/gateway/sign.js';
import { metric, tempDir, waitFor } from '../test/helpers/local-process.js';
import { presign, startS3Local } from './http-tools.js';
import { printTable, type Row, row } from './report.js';
import { runWrk } from './speed.js';

/** wrk's Lua: "GET path", "PUT path" and "LIST path" lines; 70/20/10 per request. */
const SOAK_SCRIPT = `
local gets, puts, lists = {}, {}, {}
local body = string.rep("s", 4096)
init = function(args)
  for line in io.lines(args[1]) do
    local kind, path = line:match("^(%S+) (%S+)$")
    if kind == "GET" then gets[#gets + 1] = path
    elseif kind == "PUT" then puts[#puts + 1] = path
    else lists[#lists + 1] = path end
  end
end
request = function()
  local r = math.random(100)
  if r <= 70 then return wrk.format("GET", gets[math.random(#gets)]) end
  if r <= 90 then return wrk.format("PUT", puts[math.random(#puts)], nil, body) end
  return wrk.format("GET", lists[math.random(#lists)])
end
-- Non-2xx answers by status, per thread, summed and printed at the end ("status CODE COUNT").
local threads = {}
setup = function(thread) table.insert(threads, thread) end
bad = {}
response = function(status, headers, body)
  if status >= 300 then bad[status] = (bad[status] or 0) + 1 end
end
done = function(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("bad")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %d %d\\n", code, n)) end
end
`;

/** Cumulative S3 request-duration buckets (le → count) of one operation, all statuses summed. */
async function opBuckets(admin: string, operation: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('strata_s3_request_duration_seconds_bucket{')) continue;
    if (!line.includes(`operation="${operation}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/**
 * A quantile of the requests between two bucket snapshots, interpolated linearly inside its
 * bucket (the server's buckets are coarse past 1 s: 2.5, 5, 10, 30 s — a rough figure).
 */
function bucketQuantile(
  before: Map<number, number>,
  after: Map<number, number>,
  q: number,
): { n: number; seconds: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const n = counts.at(-1) ?? 0;
  if (n === 0) return { n, seconds: 0 };
  const rank = q * n;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i]!;
    const c = counts[i]!;
    if (c >= rank) {
      if (!Number.isFinite(upper)) return { n, seconds: lower };
      return { n, seconds: lower + ((upper - lower) * (rank - below)) / Math.max(1, c - below) };
    }
    lower = upper;
    below = c;
  }
  return { n, seconds: lower };
}

const OPERATIONS = ['GetObject', 'PutObject', 'ListObjectsV2'] as const;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export async function runSoakBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { minutes: { type: 'string' }, connections: { type: 'string' } },
    strict: false,
  });
  const minutes = Number(values.minutes ?? 10);
  const connections = Number(values.connections ?? 1000);
  const tmp = await tempDir('soak');
  const strata = await startS3Local(join(tmp.dir, 'data'));
  try {
    const s3 = strata.ready.addresses.s3!;
    const sign = signer();
    const make = await request(await presign(s3, '/soak', {}, sign, { method: 'PUT' }), { method: 'PUT' });
    await make.body.dump();
    if (make.statusCode !== 200) throw new Error(`CreateBucket → ${make.statusCode}`);
    const lines: string[] = [];
    const path = (u: string) => {
      const url = new URL(u);
      return `${url.pathname}${url.search}`;
    };
    const expiresIn = (minutes + 10) * 60;
    for (let i = 0; i < 256; i++) {
      const key = `/soak/obj${i}`;
      const put = await request(await presign(s3, key, {}, sign, { method: 'PUT' }), {
        method: 'PUT',
        body: Buffer.alloc(4096, i),
      });
      await put.body.dump();
      if (put.statusCode !== 200) throw new Error(`PUT ${key} → ${put.statusCode}`);
      lines.push(`GET ${path(await presign(s3, key, {}, sign, { expiresIn }))}`);
      if (i < 64)
        lines.push(`PUT ${path(await presign(s3, `/soak/new${i}`, {}, sign, { method: 'PUT', expiresIn }))}`);
      if (i < 8)
        lines.push(
          `LIST ${path(await presign(s3, '/soak', { 'list-type': '2', 'max-keys': '100' }, sign, { expiresIn }))}`,
        );
    }
    const listFile = join(tmp.dir, 'requests.txt');
    const scriptFile = join(tmp.dir, 'soak.lua');
    await writeFile(listFile, `${lines.join('\n')}\n`);
    await writeFile(scriptFile, SOAK_SCRIPT);
    const pid = strata.child.pid!;
    const baseFds = await openFds(pid);
    const perMinute: {
      rps: number;
      p99Ms: number;
      rss: number;
      errors: number;
      dropped: number;
      cache: number;
      heap: number;
      heapTotal: number;
      external: number;
    }[] = [];
    /** What the process holds on purpose: the memory tier's pages and V8's live heap. */
    const held = async () => ({
      cache: await metric(strata.registry, 'strata_page_store_used_bytes', { tier: 'memory' }),
      heap: await metric(strata.registry, 'nodejs_heap_size_used_bytes'),
      heapTotal: await metric(strata.registry, 'nodejs_heap_size_total_bytes'),
      external: await metric(strata.registry, 'nodejs_external_memory_bytes'),
    });
    const snapshot = async () =>
      new Map(
        await Promise.all(OPERATIONS.map(async (op) => [op, await opBuckets(strata.registry, op)] as const)),
      );
    /** Store listings (each batch a call) and their time: what a LIST costs past the cache. */
    const storeLists = async () => ({
      calls: await metric(strata.registry, 'strata_ufs_operation_seconds_count', { op: 'list' }),
      seconds: await metric(strata.registry, 'strata_ufs_operation_seconds_sum', { op: 'list' }),
    });
    for (let m = 0; m < minutes; m++) {
      const before = await snapshot();
      const listsBefore = await storeLists();
      const r = await runWrk(s3, scriptFile, listFile, 60, connections, { allowErrors: true });
      const dropped = r.socketErrors + r.timeouts;
      const h = await held();
      perMinute.push({
        rps: r.rps,
        p99Ms: r.p99Ms,
        rss: await rssBytes(pid),
        errors: r.errors,
        dropped,
        ...h,
      });
      const p = perMinute.at(-1)!;
      const after = await snapshot();
      const listsAfter = await storeLists();
      // Server-side duration per operation (from the request handler on; not the socket's wait).
      const byOp = OPERATIONS.map((op) => {
        const b = before.get(op) ?? new Map<number, number>();
        const a = after.get(op) ?? new Map<number, number>();
        const p50 = bucketQuantile(b, a, 0.5);
        const p99 = bucketQuantile(b, a, 0.99);
        return `${op} ${p99.n} p50 ${p50.seconds.toFixed(2)} s p99 ${p99.seconds.toFixed(2)} s`;
      });
      process.stderr.write(
        `minute ${m + 1}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(1)} ms, non-2xx ${r.errors}${
          Object.keys(r.statuses).length > 0
            ? ` (${Object.entries(r.statuses)
                .map(([c, n]) => `${c}: ${n}`)
                .join(', ')})`
            : ''
        }, socket errors + timeouts (30 s) ${dropped}, RSS ${(p.rss / 2 ** 20).toFixed(0)} MiB (memory tier ${(p.cache / 2 ** 20).toFixed(0)} MiB, V8 heap ${(p.heap / 2 ** 20).toFixed(0)} of ${(p.heapTotal / 2 ** 20).toFixed(0)} MiB, external ${(p.external / 2 ** 20).toFixed(0)} MiB), fds ${await openFds(pid)}\n  server-side: ${byOp.join('; ')}; store list calls ${listsAfter.calls - listsBefore.calls} (${(listsAfter.seconds - listsBefore.seconds).toFixed(0)} s)\n`,
      );
    }
    // Idle connections close after the idle timeout (5 s): fds must come back to the baseline.
    const fdsAfter = await waitFor(
      'open fds back to the baseline',
      async () => {
        const n = await openFds(pid);
        return n <= baseFds ? n : undefined;
      },
      60_000,
    ).catch(async () => openFds(pid));
    const first = perMinute[0]!;
    const last = perMinute.at(-1)!;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const config = `strata local defaults, ${connections} connections, 70/20/10 GET/PUT/LIST of 4 KiB`;
    return [
      row(
        `RSS after minute ${minutes} ÷ after minute 1, ${config}`,
        mib(last.rss),
        mib(first.rss),
        last.rss / first.rss,
        {
          max: 1.1,
        },
      ),
      row(
        "RSS less the memory tier's pages, last ÷ first minute (what is not the cache filling up)",
        mib(last.rss - last.cache),
        mib(first.rss - first.cache),
        (last.rss - last.cache) / (first.rss - first.cache),
        { max: 1.1 },
      ),
      row('open fds after the load ÷ before it', String(fdsAfter), String(baseFds), fdsAfter / baseFds, {
        max: 1,
      }),
      row(
        `p99 latency, minute ${minutes} ÷ minute 1`,
        `${last.p99Ms.toFixed(1)} ms (${last.rps.toFixed(0)} req/s)`,
        `${first.p99Ms.toFixed(1)} ms (${first.rps.toFixed(0)} req/s)`,
        last.p99Ms / first.p99Ms,
        { max: 1.5 },
      ),
      row(
        'socket errors and requests past 30 s over the run',
        String(perMinute.reduce((n, p) => n + p.dropped, 0)),
        `${perMinute.reduce((n, p) => n + p.rps * 60, 0).toFixed(0)} requests`,
        0,
      ),
      row(
        'non-2xx answers over the run (503 SlowDown counts here)',
        String(perMinute.reduce((n, p) => n + p.errors, 0)),
        `${perMinute.reduce((n, p) => n + p.rps * 60, 0).toFixed(0)} requests`,
        0,
      ),
    ];
  } catch (err) {
    // What the server said before it went (STRATA_LOG is off: a crash's own message).
    process.stderr.write(
      `server exit ${strata.child.exitCode}; its stderr:\n${strata.stderr().slice(-4000)}\n`,
    );
    throw err;
  } finally {
    await strata.stop();
    await rm(tmp.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable(`Strata S3 soak (${new Date().toISOString()})`, await runSoakBench());
}
