/**
 * Syscalls of sequential 4 KiB PutObjects (issue 16): `strata local` with its defaults, one
 * presigned PUT at a time over 64 keys (overwritten, as in the soak), `strace -f -c` attached to
 * the server for the PUTs only. Prints strace's summary and the count per PUT of each call.
 *
 * Usage: node dist/bench/put-syscalls.js [--puts 300] [--trace fsync,fdatasync,openat,rename]
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { signer } from '../test/gateway/sign.js';
import { tempDir, waitFor } from '../test/helpers/local-process.js';
import { presign, startS3Local } from './http-tools.js';

const { values } = parseArgs({
  options: { puts: { type: 'string' }, trace: { type: 'string' } },
  strict: false,
});
const puts = Number(values.puts ?? 300);
const trace = String(values.trace ?? 'fsync,fdatasync,openat,rename');
const tmp = await tempDir('put-syscalls');
const strata = await startS3Local(join(tmp.dir, 'data'));
try {
  const s3 = strata.ready.addresses.s3!;
  const sign = signer();
  const put = async (path: string, body?: Buffer) => {
    const r = await request(await presign(s3, path, {}, sign, { method: 'PUT' }), {
      method: 'PUT',
      ...(body ? { body } : {}),
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`PUT ${path} → ${r.statusCode}`);
  };
  await put('/soak');
  for (let i = 0; i < 64; i++) await put(`/soak/new${i}`, Buffer.alloc(4096, i));
  const out = join(tmp.dir, 'strace.txt');
  const st = spawn(
    'strace',
    ['-f', '-c', '-e', `trace=${trace}`, '-o', out, '-p', String(strata.child.pid)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  st.stderr.on('data', (d: Buffer) => {
    err += d;
  });
  await waitFor('strace attached', async () => /attached/.test(err), 10_000);
  for (let i = 0; i < puts; i++) await put(`/soak/new${i % 64}`, Buffer.alloc(4096, i));
  const exited = new Promise((ok) => st.once('exit', ok));
  st.kill('SIGINT');
  await exited;
  const text = await readFile(out, 'utf8');
  process.stdout.write(`${text}\nper PUT (${puts} PUTs):\n`);
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m) process.stdout.write(`  ${m[2]} ${(Number(m[1]) / puts).toFixed(2)}\n`);
  }
} finally {
  await strata.stop();
  await rm(tmp.dir, { recursive: true, force: true });
}
