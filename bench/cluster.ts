/**
 * Cluster benchmark (issue: cluster). Ratios from one run:
 *   warm read over the worker RPC ÷ warm read in-process (same worker, same cached file)
 *   warm read over the worker RPC ÷ a bare node:http + undici transfer of the same bytes (the
 *     transport ceiling on this machine)
 *   4 KiB reads/s over the RPC at 64 concurrent ÷ bare HTTP 4 KiB GETs/s at 64 concurrent
 * Placement figures (keys moved, balance) come from bench/ring.ts.
 *
 * Usage: node dist/bench/cluster.js [--size-mib N] [--rounds N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { RemoteFileSystem } from '../src/client/remote-file-system.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { setQuiet } from '../src/core/log.js';
import { startLocal } from '../src/server/local.js';
import { tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';
import { drain, rate } from './util.js';

const MiB = 1024 * 1024;

async function mibPerSec(bytes: number, fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return bytes / MiB / ((performance.now() - t) / 1000);
}

const best = (xs: number[]) => Math.max(...xs);

export async function runClusterBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } },
    strict: false,
  });
  const size = Number(values['size-mib'] ?? 256) * MiB;
  const rounds = Number(values.rounds ?? 3);
  setQuiet(true);
  const tmp = await tempDir('bench-cluster');
  const payload = Buffer.alloc(size, 7);
  const small = Buffer.alloc(4096, 3);
  // The transport ceiling: the same bytes from memory over node:http, read with undici.
  const bare = createServer((req, res) => {
    const body = req.url === '/small' ? small : payload;
    res.writeHead(200, { 'content-length': body.length });
    Readable.from(
      (function* () {
        for (let i = 0; i < body.length; i += MiB) yield body.subarray(i, i + MiB);
      })(),
    ).pipe(res);
  });
  await new Promise<void>((ok) => bare.listen(0, '127.0.0.1', ok));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  const pool = new Pool(bareUrl, { connections: 64 });
  const local = await startLocal({
    ...DEFAULT_CONFIG,
    dataDir: join(tmp.dir, 'strata'),
    port: 0,
    memoryCapacity: 2 * size,
    diskCapacity: 4 * size,
    mounts: [],
  });
  const remote = new RemoteFileSystem(local.ready.addresses.worker!, { connections: 64 });
  const rows: Row[] = [];
  try {
    const fs = local.node.fs;
    await fs.write('/bench/big.bin', Readable.from([payload]), { writeType: 'MUST_CACHE' });
    await fs.write('/bench/small.bin', Readable.from([small]), { writeType: 'MUST_CACHE' });
    const inProc: number[] = [];
    const overRpc: number[] = [];
    const ceiling: number[] = [];
    const inProcCopy: number[] = [];
    // An in-process consumer that keeps the bytes in its own buffer (as a socket or file write
    // would copy them): the in-process read otherwise hands out cached pages without any copy.
    const sink = Buffer.allocUnsafe(MiB);
    const copyOut = async (stream: AsyncIterable<Buffer>) => {
      let n = 0;
      for await (const c of stream) {
        for (let i = 0; i < c.length; i += sink.length)
          c.copy(sink, 0, i, Math.min(c.length, i + sink.length));
        n += c.length;
      }
      return n;
    };
    for (let r = 0; r < rounds; r++) {
      inProc.push(await mibPerSec(size, async () => drain(await fs.read('/bench/big.bin'))));
      inProcCopy.push(await mibPerSec(size, async () => copyOut(await fs.read('/bench/big.bin'))));
      overRpc.push(await mibPerSec(size, async () => drain(await remote.read('/bench/big.bin'))));
      ceiling.push(
        await mibPerSec(size, async () => drain((await pool.request({ method: 'GET', path: '/big' })).body)),
      );
    }
    rows.push(
      row(
        'warm read: RPC ÷ in-process',
        `${best(overRpc).toFixed(0)} MiB/s`,
        `${best(inProc).toFixed(0)} MiB/s`,
        best(overRpc) / best(inProc),
        { min: 0.7 },
      ),
    );
    rows.push(
      row(
        'warm read: RPC ÷ in-process with a copying consumer',
        `${best(overRpc).toFixed(0)} MiB/s`,
        `${best(inProcCopy).toFixed(0)} MiB/s`,
        best(overRpc) / best(inProcCopy),
      ),
    );
    rows.push(
      row(
        'warm read: RPC ÷ bare HTTP (transport ceiling)',
        `${best(overRpc).toFixed(0)} MiB/s`,
        `${best(ceiling).toFixed(0)} MiB/s`,
        best(overRpc) / best(ceiling),
      ),
    );
    const n = 20_000;
    const rpcRate = await rate(n, 64, async () => drain(await remote.read('/bench/small.bin')));
    const bareRate = await rate(n, 64, async () =>
      drain((await pool.request({ method: 'GET', path: '/small' })).body),
    );
    const inProcRate = await rate(n, 64, async () => drain(await fs.read('/bench/small.bin')));
    rows.push(
      row(
        '4 KiB reads/s, 64 concurrent: RPC ÷ bare HTTP',
        `${rpcRate.toFixed(0)}/s`,
        `${bareRate.toFixed(0)}/s`,
        rpcRate / bareRate,
      ),
    );
    rows.push(
      row(
        '4 KiB reads/s, 64 concurrent: RPC ÷ in-process',
        `${rpcRate.toFixed(0)}/s`,
        `${inProcRate.toFixed(0)}/s`,
        rpcRate / inProcRate,
      ),
    );
  } finally {
    await remote.close();
    await pool.close();
    bare.close();
    await local.stop();
    await tmp.cleanup();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runClusterBench(process.argv.slice(2));
  printTable(`Strata cluster benchmark (${new Date().toISOString()})`, rows);
  await saveResults('cluster', rows);
}
