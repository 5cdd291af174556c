import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TRAVERSAL_PATHS, TRAVERSAL_SEGMENTS } from '../../bench/fuzz/corpus.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';

/**
 * Path traversal, 0 escapes (issue 16): every attempt of the fuzz corpus (encoded, double- and
 * triple-encoded, overlong UTF-8, backslashes, NUL, fullwidth dots) and symlinks inside a
 * file:// store pointing out of it, sent raw (no client normalises them) to a real `strata local`
 * through the S3 gateway (anonymous read on) and the worker RPC (with the token), for reads and
 * writes. An escape is any answer carrying the canary file's content or /etc/passwd's, or any
 * file appearing outside the store. The store holds a file of its own, which must still be read.
 */

let tmp: { dir: string; cleanup: () => Promise<void> };
let strata: RunningStrata;
let token: string;
const CANARY = `CANARY-${randomBytes(8).toString('hex')}`;
const INSIDE = `inside-${randomBytes(8).toString('hex')}`;
let storeDir: string;
let s3Port: number;
let adminPort: number;

before(async () => {
  tmp = await tempDir('traversal');
  storeDir = join(tmp.dir, 'root', 'store');
  await mkdir(join(storeDir, 'dir'), { recursive: true });
  await mkdir(join(tmp.dir, 'root', 'secret'), { recursive: true });
  await writeFile(join(tmp.dir, 'root', 'secret', 'canary.txt'), CANARY);
  await writeFile(join(storeDir, 'ok.txt'), INSIDE);
  await writeFile(join(storeDir, 'dir', 'ok.txt'), INSIDE);
  // Symlinks in the store that point out of it: a directory, a file, an absolute path.
  await symlink('../secret', join(storeDir, 'link'));
  await symlink('../secret/canary.txt', join(storeDir, 'canary-link'));
  await symlink('/etc/passwd', join(storeDir, 'passwd'));
  strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/t=file://${storeDir}`], {
    STRATA_S3_ACCESS_KEY_ID: 'travkey',
    STRATA_S3_SECRET_ACCESS_KEY: 'travsecret',
    STRATA_LOG: 'off',
  });
  token = (await readFile(join(tmp.dir, 'data', 'token'), 'utf8')).trim();
  s3Port = Number(new URL(strata.ready.addresses.s3!).port);
  adminPort = Number(new URL(strata.registry).port);
  const on = await runCli(['fs', 'anonymous', 't', 'on'], { registry: strata.registry });
  assert.equal(on.code, 0, on.stderr);
});

after(async () => {
  await strata?.stop();
  await tmp?.cleanup();
});

/** One raw HTTP/1.1 request (the target exactly as given); the status and the whole body. */
function raw(port: number, head: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(20_000, () => socket.destroy(new Error(`no answer to ${head.split('\r\n')[0]}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', fail);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      ok({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    // Not end(): the server answers a half-closed connection with nothing.
    socket.write(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n${body}`);
  });
}

/** Targets that try to leave the store, as they go on the wire. */
function attempts(): string[] {
  const out = new Set<string>();
  for (const p of TRAVERSAL_PATHS) out.add(p.replace(/^\/+/, ''));
  for (const seg of TRAVERSAL_SEGMENTS) {
    out.add(`${seg}/secret/canary.txt`);
    out.add(`${seg}/${seg}/secret/canary.txt`);
    out.add(`dir/${seg}/${seg}/secret/canary.txt`);
    out.add(`${seg}/${seg}/${seg}/${seg}/${seg}/etc/passwd`);
  }
  for (const s of ['link/canary.txt', 'canary-link', 'passwd', 'link%2fcanary.txt', 'dir/../link/canary.txt'])
    out.add(s);
  return [...out];
}

const leaked = (body: string) => body.includes(CANARY) || /root:x?:0:0:/.test(body);

test('S3 GETs and RPC reads of traversal attempts and outward symlinks: 0 escapes, the store still read', async () => {
  const inside = await raw(s3Port, 'GET /t/ok.txt HTTP/1.1');
  assert.equal(inside.status, 200);
  assert.equal(inside.body, INSIDE);
  const rpcInside = await raw(
    adminPort,
    `GET /rpc/v1/read?path=/t/dir/ok.txt HTTP/1.1\r\nAuthorization: Bearer ${token}`,
  );
  assert.equal(rpcInside.status, 200, rpcInside.body);
  assert.equal(rpcInside.body, INSIDE);

  const escapes: string[] = [];
  const statuses = new Map<number, number>();
  const list = attempts();
  for (const a of list) {
    const answers = [
      await raw(s3Port, `GET /t/${a} HTTP/1.1`),
      await raw(s3Port, `GET /t/${a}?x-id=GetObject HTTP/1.1`),
      await raw(adminPort, `GET /rpc/v1/read?path=/t/${a} HTTP/1.1\r\nAuthorization: Bearer ${token}`),
      await raw(adminPort, `GET /rpc/v1/status?path=/t/${a} HTTP/1.1\r\nAuthorization: Bearer ${token}`),
    ];
    for (const r of answers) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (leaked(r.body)) escapes.push(`${a} → ${r.status}`);
      assert.notEqual(r.status, 0, `no HTTP answer for ${a}`);
      assert.ok(r.status < 500, `${a}: ${r.status} ${r.body.slice(0, 200)}`);
    }
  }
  process.stderr.write(
    `traversal reads: ${list.length * 4} requests, answers ${JSON.stringify(Object.fromEntries(statuses))}, escapes ${escapes.length}\n`,
  );
  assert.deepEqual(escapes, [], 'no answer carries a file from outside the store');
  assert.ok(strata.child.exitCode === null, 'the server is alive');
});

test('RPC writes and deletes of traversal attempts create or remove nothing outside the store', async () => {
  const outside = async () => (await readdir(join(tmp.dir, 'root'), { recursive: true })).sort();
  const before = await outside();
  const inStore = (await readdir(storeDir, { recursive: true })).length;
  let refused = 0;
  const list = attempts();
  for (const a of list) {
    const target = `/t/${a.replace('canary.txt', 'written.txt').replace('etc/passwd', 'escaped.txt')}`;
    const put = await raw(
      adminPort,
      `PUT /rpc/v1/write?path=${target} HTTP/1.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 7`,
      'escaped',
    );
    assert.ok(put.status > 0 && put.status < 500, `${target}: ${put.status} ${put.body.slice(0, 200)}`);
    if (put.status >= 400) refused++;
  }
  for (const a of ['link/canary.txt', 'canary-link', 'passwd', ...TRAVERSAL_PATHS]) {
    const del = await raw(
      adminPort,
      `DELETE /rpc/v1/delete?path=/t/${a} HTTP/1.1\r\nAuthorization: Bearer ${token}`,
    );
    assert.ok(del.status > 0 && del.status < 500, `delete ${a}: ${del.status} ${del.body.slice(0, 200)}`);
  }
  const after = await outside();
  // Whatever was accepted landed inside the store (a name with odd bytes in it is fine there).
  const outsideStore = (names: string[]) => names.filter((n) => !n.startsWith('store'));
  assert.deepEqual(outsideStore(after), outsideStore(before), 'nothing outside the store changed');
  assert.equal(
    await readFile(join(tmp.dir, 'root', 'secret', 'canary.txt'), 'utf8'),
    CANARY,
    'the canary is intact',
  );
  assert.equal(await readFile('/etc/passwd', 'utf8').then((t) => /root:/.test(t)), true);
  process.stderr.write(
    `traversal writes: ${list.length} PUTs, ${refused} refused, store entries ${inStore} → ${(await readdir(storeDir, { recursive: true })).length}\n`,
  );
});
