import fc from 'fast-check';
import { judge } from './oracle.js';
import { exchange } from './raw-http.js';
import { type PortSpec, portSpec, renderPort } from './rpc-cases.js';
import { framingComplete, renderS3, type S3Spec, s3Spec } from './s3-cases.js';
import type { FuzzTarget } from './target.js';

/**
 * The fuzz loop: requests drawn in seeded batches (batch b uses seed + b, so one request is
 * replayed by its seed, batch and index), sent in parallel over real sockets, each answer judged
 * by the oracle; liveness (/healthz) and RSS sampled as it goes.
 */

export interface FuzzOptions {
  readonly requests: number;
  readonly seed: number;
  readonly concurrency: number;
  readonly batchSize?: number;
  /** Per-request deadline (the gateway's own store deadline is 10 s). */
  readonly timeoutMs?: number;
  /** Only this batch:index (replay of one reported request). */
  readonly only?: { batch: number; index: number };
  readonly onProgress?: (done: number) => void;
}

export interface Violation {
  readonly seed: number;
  readonly batch: number;
  readonly index: number;
  readonly kind: 's3' | 'port';
  readonly request: string;
  readonly status?: number;
  readonly reason: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly statuses: Record<string, number>;
  readonly violations: Violation[];
  readonly crashed: boolean;
  readonly healthChecks: number;
  readonly rssStartBytes: number;
  readonly rssPeakBytes: number;
  readonly rssEndBytes: number;
}

type Case = { kind: 's3'; spec: S3Spec } | { kind: 'port'; spec: PortSpec };

export function caseArbitrary(sandbox: string): fc.Arbitrary<Case> {
  return fc.oneof(
    { weight: 13, arbitrary: s3Spec.map((spec): Case => ({ kind: 's3', spec })) },
    { weight: 7, arbitrary: portSpec(sandbox).map((spec): Case => ({ kind: 'port', spec })) },
  );
}

function describe(c: Case): string {
  const t =
    c.spec.target.length > 160 ? `${c.spec.target.slice(0, 160)}…(${c.spec.target.length})` : c.spec.target;
  return `${c.spec.method.slice(0, 20)} ${t} [${c.kind === 's3' ? `${c.spec.auth}, ${c.spec.framing}` : `${c.spec.token}, ${c.spec.framing}`}]`;
}

/** Buckets and objects the generated requests find (most target `fuzz` and `fuzz2`). */
async function seed(t: FuzzTarget): Promise<void> {
  const put = (target: string, body: string) =>
    exchange(
      t.s3Port,
      renderS3(
        { method: 'PUT', target, headers: [], body, framing: 'length', auth: 'sign', garbageAuth: '' },
        { port: t.s3Port, ...t },
      ),
      { timeoutMs: 10_000 },
    );
  for (const b of ['/fuzz', '/fuzz2']) {
    const r = await put(b, '');
    const status = r.responses[0]?.status;
    if (status !== 200 && status !== 409)
      throw new Error(`cannot create bucket ${b}: ${status} ${r.malformed ?? ''}`);
  }
  for (const k of ['/fuzz/k', '/fuzz/dir/a.txt', '/fuzz/obj', '/fuzz2/k'])
    await put(k, `content of ${k}\n`.repeat(50));
}

async function healthy(t: FuzzTarget): Promise<boolean> {
  const r = await exchange(
    t.adminPort,
    Buffer.from('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n'),
    {
      timeoutMs: 15_000,
    },
  );
  const res = r.responses[0];
  return (
    res?.status === 200 && (JSON.parse(res.body.toString('utf8')) as { status?: string }).status === 'ok'
  );
}

export async function runFuzz(t: FuzzTarget, o: FuzzOptions): Promise<FuzzReport> {
  await seed(t);
  const batchSize = o.batchSize ?? 200;
  const timeoutMs = o.timeoutMs ?? 20_000;
  const arb = caseArbitrary(t.sandbox);
  const statuses: Record<string, number> = {};
  const violations: Violation[] = [];
  const rssStart = await t.rss();
  let rssPeak = rssStart;
  const sampler = setInterval(() => {
    void t.rss().then((r) => {
      rssPeak = Math.max(rssPeak, r);
    });
  }, 200);
  let healthChecks = 0;
  let done = 0;
  let crashed = false;
  const started = performance.now();
  const batches = o.only
    ? [o.only.batch]
    : Array.from({ length: Math.ceil(o.requests / batchSize) }, (_, b) => b);
  try {
    for (const batch of batches) {
      const count = o.only ? o.only.index + 1 : Math.min(batchSize, o.requests - batch * batchSize);
      const cases = fc.sample(arb, { seed: o.seed + batch, numRuns: count });
      const indexes = o.only ? [o.only.index] : cases.map((_, i) => i);
      let next = 0;
      const worker = async () => {
        while (next < indexes.length) {
          const index = indexes[next++]!;
          const c = cases[index]!;
          const head = c.spec.method === 'HEAD';
          const bytes =
            c.kind === 's3'
              ? renderS3(c.spec, { port: t.s3Port, ...t })
              : renderPort(c.spec, t.adminPort, t.token);
          const complete = c.kind === 's3' ? framingComplete(c.spec) : c.spec.framing !== 'short';
          const ex = await exchange(c.kind === 's3' ? t.s3Port : t.adminPort, bytes, {
            timeoutMs,
            head,
            halfClose: !complete,
          });
          const verdict = judge(c.kind, ex, { head, complete });
          const key = `${c.kind} ${verdict.status ?? 'none'}${verdict.code === undefined ? '' : ` ${verdict.code}`}`;
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (verdict.violation !== undefined) {
            violations.push({
              seed: o.seed,
              batch,
              index,
              kind: c.kind,
              request: describe(c),
              ...(verdict.status === undefined ? {} : { status: verdict.status }),
              reason: verdict.violation,
            });
          }
          done++;
          o.onProgress?.(done);
        }
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      healthChecks++;
      if (!t.alive() || !(await healthy(t))) {
        crashed = true;
        break;
      }
    }
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    seed: o.seed,
    requests: done,
    seconds,
    requestsPerSecond: done / seconds,
    statuses,
    violations,
    crashed,
    healthChecks,
    rssStartBytes: rssStart,
    rssPeakBytes: rssPeak,
    rssEndBytes: await t.rss(),
  };
}
