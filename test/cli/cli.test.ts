import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRpcHandler } from '../../src/server/rpc-server.js';
import { patternBytes } from '../../src/ufs/contract.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';

/** dist/test/cli/cli.test.js → repo root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'strata.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv, input?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
      },
    );
    child.stdin?.end(input);
  });
}

describe('strata CLI against a worker over RPC', () => {
  const mem = new MemoryFileSystem();
  let server: Server;
  let registry: string;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  const big = patternBytes(3 * 1024 * 1024 + 5, 11);

  before(async () => {
    const rpc = createRpcHandler(mem);
    server = createServer((req, res) => {
      void (async () => {
        if (await rpc(req, res)) return;
        if (req.url?.startsWith('/api/v1/jobs')) {
          // What the jobs client answers for a cluster with no scheduler running.
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: {
                code: 'UNAVAILABLE',
                message: 'no scheduler is running (start one: strata scheduler --registry URI)',
              },
            }),
          );
          return;
        }
        if (req.url === '/registry/v1/workers') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ workers: [{ id: 'w1', address: registry }] }));
          return;
        }
        res.writeHead(404);
        res.end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = cleanEnv({ STRATA_REGISTRY: registry });
    tmp = await mkdtemp(join(tmpdir(), 'strata-cli-'));
    await writeFile(join(tmp, 'big.bin'), big);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });

  test('put a file and stdin, then ls, stat, cat and get them', async () => {
    assert.equal((await run(['fs', 'mkdir', '/data'], env)).code, 0);
    const put = await run(
      ['fs', 'put', '--write-type', 'THROUGH', join(tmp, 'big.bin'), '/data/big.bin'],
      env,
    );
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /wrote \/data\/big\.bin \(3145733 bytes/);
    assert.deepEqual(mem.seen.write, { writeType: 'THROUGH', size: big.length, signal: undefined });
    assert.ok(mem.files.get('/data/big.bin')?.data.equals(big));

    const stdin = await run(['fs', 'put', '-', '/data/note.txt'], env, Buffer.from('from stdin\n'));
    assert.equal(stdin.code, 0, stdin.stderr);

    // Make 75% of big.bin "cached" so stat has something to say.
    const f = mem.files.get('/data/big.bin');
    assert.ok(f);
    f.cached = Math.round(big.length * 0.75);

    const ls = await run(['fs', 'ls', '--json', '/data'], env);
    assert.equal(ls.code, 0, ls.stderr);
    const entries = JSON.parse(ls.stdout) as Array<{ name: string; size: number; cachedPercent: number }>;
    assert.deepEqual(
      entries.map((e) => [e.name, e.size, e.cachedPercent]),
      [
        ['big.bin', big.length, 75],
        ['note.txt', 11, 100],
      ],
    );
    const table = await run(['--registry', registry, 'fs', 'ls', '-h', '/data'], cleanEnv());
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^--\s+3\.0MiB\s+75%\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+big\.bin$/m);
    assert.match(table.stdout, /note\.txt$/m);

    const stat = await run(['fs', 'stat', '/data/big.bin'], env);
    assert.equal(stat.code, 0, stat.stderr);
    assert.match(stat.stdout, new RegExp(`cached:\\s+${f.cached} bytes \\(75%\\)`));
    const statJson = JSON.parse((await run(['fs', 'stat', '--json', '/data/big.bin'], env)).stdout) as {
      size: number;
      type: string;
    };
    assert.equal(statJson.size, big.length);
    assert.equal(statJson.type, 'file');

    const cat = await run(['fs', 'cat', '/data/note.txt'], env);
    assert.equal(cat.code, 0);
    assert.equal(cat.stdout, 'from stdin\n');

    const out = join(tmp, 'copy.bin');
    const get = await run(['fs', 'get', '--read-type', 'no_cache', '/data/big.bin', out], env);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(out)).equals(big), 'downloaded bytes differ');
    assert.equal((mem.seen.read as { readType?: string }).readType, 'NO_CACHE');
  });

  test('cat into a pipe that closes early exits 0 (EPIPE is not an error)', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const sh = spawn(
        'bash',
        [
          '-c',
          `set -o pipefail; "${process.execPath}" "${BIN}" fs cat /data/big.bin | head -c 10 >/dev/null`,
        ],
        {
          env,
          stdio: 'ignore',
        },
      );
      sh.on('exit', (c) => resolve(c));
    });
    assert.equal(code, 0);
  });

  test('cp, mv, rm, pin, ttl, du, load, free', async () => {
    assert.equal((await run(['fs', 'cp', '/data/note.txt', '/data/copy.txt'], env)).code, 0);
    assert.equal(mem.files.get('/data/copy.txt')?.data.toString(), 'from stdin\n');
    assert.equal((await run(['fs', 'mv', '/data/copy.txt', '/data/moved.txt'], env)).code, 0);
    assert.ok(mem.files.has('/data/moved.txt') && !mem.files.has('/data/copy.txt'));
    assert.equal((await run(['fs', 'pin', '/data/moved.txt'], env)).code, 0);
    assert.equal(mem.files.get('/data/moved.txt')?.pinned, true);
    assert.equal((await run(['fs', 'ttl', '/data/moved.txt', '2h', '--action', 'delete'], env)).code, 0);
    assert.equal(mem.files.get('/data/moved.txt')?.ttlMs, 7_200_000);
    assert.equal(mem.files.get('/data/moved.txt')?.ttlAction, 'delete');
    assert.equal((await run(['fs', 'ttl', '/data/moved.txt', 'off'], env)).code, 0);
    assert.equal(mem.files.get('/data/moved.txt')?.ttlMs, undefined);
    assert.equal((await run(['fs', 'unpin', '/data/moved.txt'], env)).code, 0);
    assert.equal(mem.files.get('/data/moved.txt')?.pinned, false);

    // No scheduler: fs free and fs load do the work in this client, as before, and say so.
    const free = await run(['fs', 'free', '--json', '/data'], env);
    assert.equal(free.code, 0, free.stderr);
    assert.deepEqual(JSON.parse(free.stdout), { files: 3, bytes: big.length + 22 });
    assert.match(
      free.stderr,
      /^strata: no scheduler to run a free job \(.*strata scheduler.*\); this client does it directly instead\n$/,
    );
    const du = await run(['fs', 'du', '--json', '/data'], env);
    assert.deepEqual(JSON.parse(du.stdout), {
      path: '/data',
      files: 3,
      directories: 1,
      bytes: big.length + 22,
      cachedBytes: 0,
    });
    const load = await run(['fs', 'load', '/data'], env);
    assert.match(load.stdout, /^loaded 3 files, /);
    assert.match(load.stderr, /no scheduler to run a load job .* directly/);
    assert.match(
      (await run(['fs', 'du', '-h', '/data'], env)).stdout,
      /3\.0MiB\s+3\.0MiB\s+100%\s+3\s+1\s+\/data/,
    );

    assert.equal((await run(['fs', 'rm', '/data/moved.txt'], env)).code, 0);
    assert.ok(!mem.files.has('/data/moved.txt'));
    const notEmpty = await run(['fs', 'rm', '/data'], env);
    assert.equal(notEmpty.code, 3);
    assert.match(notEmpty.stderr, /^strata: DIRECTORY_NOT_EMPTY: /);
  });

  test('mount, mounts and report, with secrets masked', async () => {
    const mount = await run(
      [
        'fs',
        'mount',
        '/s3',
        's3://bucket/prefix',
        '--readonly',
        '--sync-interval',
        '10m',
        '--option',
        'region=eu-west-1',
        '--option',
        'secretAccessKey=hunter2',
      ],
      env,
    );
    assert.equal(mount.code, 0, mount.stderr);
    assert.equal(mount.stdout, 'mounted s3://bucket/prefix at /s3\n');
    assert.deepEqual(mem.mountTable[0]?.syncIntervalMs, 600_000);

    const mounts = await run(['fs', 'mounts', '--json'], env);
    const parsed = JSON.parse(mounts.stdout) as Array<{
      path: string;
      readOnly: boolean;
      options: Record<string, string>;
    }>;
    assert.equal(parsed[0]?.path, '/s3');
    assert.equal(parsed[0]?.readOnly, true);
    assert.equal(parsed[0]?.options.secretAccessKey, '****');
    const mountsTable = await run(['fs', 'mounts'], env);
    assert.match(
      mountsTable.stdout,
      /^\/s3\s+s3:\/\/bucket\/prefix\s+ro\s+10m\s+CACHE_THROUGH\s+region=eu-west-1,secretAccessKey=\*\*\*\*$/m,
    );
    assert.ok(!mountsTable.stdout.includes('hunter2'));

    const ro = await run(['fs', 'put', '-', '/s3/x'], env, Buffer.from('x'));
    assert.equal(ro.code, 77);
    assert.match(ro.stderr, /^strata: READ_ONLY: /);

    const report = JSON.parse((await run(['report', '--json'], env)).stdout) as {
      workers: unknown[];
      mounts: unknown[];
    };
    assert.ok(Array.isArray(report.workers) && report.workers.length === 1);
    assert.equal(report.mounts.length, 1);
    const human = await run(['report'], env);
    assert.match(human.stdout, /^w1\s+http:\/\/127\.0\.0\.1:1\s+ACTIVE/m);

    assert.equal((await run(['fs', 'unmount', '/s3'], env)).code, 0);
    const again = await run(['fs', 'unmount', '/s3'], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^strata: NOT_MOUNTED: /);
  });

  test('errors: codes on stderr and the table exit codes', async () => {
    const missing = await run(['fs', 'stat', '/nope'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^strata: NOT_FOUND: /);
    assert.equal(missing.stdout, '');

    const badPath = await run(['fs', 'ls', 'relative'], env);
    assert.equal(badPath.code, 64);
    assert.match(badPath.stderr, /^strata: INVALID_PATH: /);

    const badType = await run(['fs', 'put', '--write-type', 'SOMETIMES', '-', '/x'], env, Buffer.from(''));
    assert.equal(badType.code, 64);
    assert.match(
      badType.stderr,
      /INVALID_ARGUMENT: --write-type must be one of MUST_CACHE, CACHE_THROUGH, THROUGH, ASYNC_THROUGH/,
    );

    const badTtl = await run(['fs', 'ttl', '/data/big.bin', 'soon'], env);
    assert.equal(badTtl.code, 64);

    const down = await run(['--registry', 'http://127.0.0.1:1', 'fs', 'ls', '/'], cleanEnv());
    assert.equal(down.code, 69);
    assert.match(down.stderr, /^strata: UNAVAILABLE: /);

    const etcd = await run(['fs', 'ls', '/', '--registry', 'etcd://127.0.0.1:2379'], cleanEnv());
    assert.equal(etcd.code, 69);
    assert.match(etcd.stderr, /UNAVAILABLE/);
  });

  test('usage errors exit 64 with help', async () => {
    const noRegistry = await run(['fs', 'ls', '/'], cleanEnv());
    assert.equal(noRegistry.code, 64);
    assert.match(noRegistry.stderr, /--registry/);
    assert.match(noRegistry.stderr, /STRATA_REGISTRY/);

    const unknown = await run(['frobnicate'], env);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);

    const unknownFs = await run(['fs', 'frob'], env);
    assert.equal(unknownFs.code, 64);

    const unknownFlag = await run(['fs', 'ls', '--colour', '/'], env);
    assert.equal(unknownFlag.code, 64);
    assert.match(unknownFlag.stderr, /usage: strata fs ls/);

    const tooMany = await run(['fs', 'stat', '/a', '/b'], env);
    assert.equal(tooMany.code, 64);

    const none = await run([], env);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /Commands:/);

    const help = await run(['help', 'fs', 'mount'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: strata fs mount/);
    assert.match(help.stdout, /Examples:\n {2}strata fs mount/);
    const flagHelp = await run(['fs', 'cat', '--help'], env);
    assert.equal(flagHelp.code, 0);
    assert.match(flagHelp.stdout, /--read-type T/);

    const version = await run(['--version'], env);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout, `strata ${pkg.version}\n`);
  });

  test('conf show masks secrets', async () => {
    const confEnv = cleanEnv({
      STRATA_REGISTRY: registry,
      STRATA_TOKEN: 'tok-123',
      STRATA_S3_SECRET_KEY: 'sk',
      STRATA_PAGE_SIZE: '1MiB',
    });
    const conf = await run(['conf', 'show', '--json'], confEnv);
    assert.equal(conf.code, 0, conf.stderr);
    const parsed = JSON.parse(conf.stdout) as {
      registry: string;
      registrySource: string;
      env: Record<string, string>;
    };
    assert.equal(parsed.registry, registry);
    assert.equal(parsed.registrySource, 'env');
    assert.deepEqual(parsed.env, {
      STRATA_PAGE_SIZE: '1MiB',
      STRATA_REGISTRY: registry,
      STRATA_S3_SECRET_KEY: '****',
      STRATA_TOKEN: '****',
    });
    const text = await run(['conf', 'show'], confEnv);
    assert.ok(!text.stdout.includes('tok-123') && !text.stdout.includes('=sk'));
  });
});
