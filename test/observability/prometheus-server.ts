import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

/** Debian's prometheus package (scripts/test-packages.txt). */
export const PROMETHEUS_BINARY = process.env.STRATA_PROMETHEUS_BINARY ?? '/usr/bin/prometheus';

export function prometheusSkipReason(): string | undefined {
  return existsSync(PROMETHEUS_BINARY)
    ? undefined
    : `${PROMETHEUS_BINARY} is missing (apt-get install prometheus; scripts/install-test-deps.sh)`;
}

export interface PrometheusServer {
  /** http://127.0.0.1:P */
  readonly url: string;
  readonly pid: number;
  /** An instant query; the result vector (empty when nothing matches). Fails on a bad query. */
  query(expr: string, time?: number): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  /** The single value of an instant query, or undefined when its vector is empty. */
  value(expr: string, time?: number): Promise<number | undefined>;
  /** SIGTERM, wait for exit, remove its data dir. */
  stop(): Promise<void>;
}

/**
 * A real Prometheus server scraping `jobs` (job name → targets as http://host:port) every
 * second, with its own config, a TSDB in a temp dir and a loopback port. Resolves once
 * /-/ready answers.
 */
export async function startPrometheus(jobs: Record<string, readonly string[]>): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const scrape = Object.entries(jobs).map(([job, targets]) => ({
    job_name: job,
    scrape_interval: '1s',
    scrape_timeout: '1s',
    static_configs: [{ targets: targets.map((t) => new URL(t).host) }],
  }));
  const config = join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML writer needed.
  await writeFile(
    config,
    JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: scrape }),
  );
  const logFile = join(dir, 'prometheus.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      PROMETHEUS_BINARY,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
      ],
      { stdio: ['ignore', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (gone) throw new Error(`prometheus exited:\n${(await readFile(logFile, 'utf8')).slice(-2000)}`);
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        await res?.arrayBuffer();
        return res?.ok === true;
      },
      { what: 'prometheus ready', timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  async function query(expr: string, time?: number) {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', String(time));
    const res = await fetch(`${url}/api/v1/query?${params}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: {
        resultType: string;
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      };
    };
    if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
    const data = body.data!;
    if (data.resultType === 'scalar') {
      const v = data.result as unknown as [number, string];
      return [{ metric: {}, value: Number(v[1]) }];
    }
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }
  return {
    url,
    pid: child.pid ?? -1,
    query,
    async value(expr, time) {
      const r = await query(expr, time);
      if (r.length > 1) throw new Error(`query ${expr} returned ${r.length} series`);
      return r[0]?.value;
    },
    stop,
  };
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}
