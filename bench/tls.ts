/**
 * What TLS costs the worker RPC: two `strata local` in this process, one plain and one with
 * --tls-cert/--tls-key (a P-256 certificate from a test CA made with openssl), read through a
 * RemoteFileSystem each (the CLI's and the clients' transport, undici over TLS).
 *
 *   warm read   : MiB/s of a cached file read over the RPC, TLS ÷ plain
 *   small calls : status() calls per second, one at a time (a request each), TLS ÷ plain
 *
 * Rounds are interleaved, in alternating order, so load from other processes hits both alike.
 * Usage: npm run bench -- tls   (or node dist/bench/tls.js [--size-mib N] [--rounds N])
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RemoteFileSystem } from '../src/client/remote-file-system.js';
import { DEFAULT_CONFIG, type ServerConfig } from '../src/core/config.js';
import { setQuiet } from '../src/core/log.js';
import { useCaFile } from '../src/core/tls-options.js';
import { startLocal } from '../src/server/local.js';
import { makeTestCa } from '../test/hardening/tls-ca.js';
import { tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';
import { drain, median } from './util.js';

const MiB = 1024 * 1024;
const STATUS_CALLS = 2000;

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export async function runTlsBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } },
    strict: false,
  });
  const size = Number(values['size-mib'] ?? 64) * MiB;
  const rounds = Number(values.rounds ?? 5);
  setQuiet(true);
  const tmp = await tempDir('bench-tls');
  const ca = await makeTestCa(tmp.dir);
  await useCaFile(ca.caFile);
  const start = async (name: string, tls: Partial<ServerConfig>) => {
    const dataDir = join(tmp.dir, name);
    await mkdir(join(dataDir, 'ufs'), { recursive: true });
    await writeFile(join(dataDir, 'ufs', 'big.bin'), randomBytes(size));
    return startLocal({
      ...DEFAULT_CONFIG,
      dataDir,
      port: 0,
      s3Port: -1,
      insecure: true,
      memoryCapacity: 2 * size,
      diskCapacity: 0,
      mounts: [],
      ...tls,
    });
  };
  const plain = await start('plain', {});
  const secure = await start('tls', { tlsCert: ca.certFile, tlsKey: ca.keyFile });
  const clients = {
    plain: new RemoteFileSystem(plain.ready.addresses.worker!, { discoverToken: false }),
    tls: new RemoteFileSystem(secure.ready.addresses.worker!, { discoverToken: false }),
  };
  const rows: Row[] = [];
  try {
    if (!clients.tls.baseUrl.startsWith('https:')) throw new Error('the TLS worker is not on https');
    const read: Record<'plain' | 'tls', number[]> = { plain: [], tls: [] };
    const calls: Record<'plain' | 'tls', number[]> = { plain: [], tls: [] };
    for (const c of Object.values(clients)) await drain(await c.read('/big.bin')); // warm the cache
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first: what one round leaves behind (GC, sockets) lands on both.
      for (const k of r % 2 === 0 ? (['plain', 'tls'] as const) : (['tls', 'plain'] as const)) {
        const c = clients[k];
        read[k].push(size / MiB / (await seconds(async () => drain(await c.read('/big.bin')))));
        const s = await seconds(async () => {
          for (let i = 0; i < STATUS_CALLS; i++) await c.status('/big.bin');
        });
        calls[k].push(STATUS_CALLS / s);
      }
    }
    const [rp, rt] = [median(read.plain), median(read.tls)];
    rows.push(
      row('warm read over the RPC, TLS ÷ plain', `${rt.toFixed(0)} MiB/s`, `${rp.toFixed(0)} MiB/s`, rt / rp),
    );
    const [cp, ct] = [median(calls.plain), median(calls.tls)];
    rows.push(
      row('status() calls one at a time, TLS ÷ plain', `${ct.toFixed(0)} /s`, `${cp.toFixed(0)} /s`, ct / cp),
    );
  } finally {
    await clients.plain.close();
    await clients.tls.close();
    await plain.stop();
    await secure.stop();
    await ca.close();
    await tmp.cleanup();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runTlsBench();
  printTable('TLS', rows);
  process.stdout.write(`results: ${await saveResults('tls', rows)}\n`);
}
