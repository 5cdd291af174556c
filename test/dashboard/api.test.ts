import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';

/**
 * The dashboard's files and JSON API on a real `strata local`, without a browser: content types,
 * caching, no way out of the asset folder, the loopback rule of read-only views, refused actions.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request with any target and Host (fetch would normalise both). */
function raw(
  base: string,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
) {
  const url = new URL(base);
  return new Promise<Answer>((ok, fail) => {
    const req = request(
      { host: url.hostname, port: url.port, path: target, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

describe('dashboard API and files of strata local', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let admin: string;
  let token: string;

  before(async () => {
    tmp = await tempDir('dashboard-api');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    for (let i = 0; i < 7; i++) await writeFile(join(ufs, `f${i}.txt`), `file ${i}\n`);
    strata = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--mount',
      `/m=${pathToFileURL(ufs).href}`,
      '--s3-port',
      'off',
    ]);
    admin = strata.ready.addresses.admin!;
    token = (await readFile(join(tmp.dir, 'data', 'token'), 'utf8')).trim();
  });

  after(async () => {
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('GET / is the page, with its import map allowed by the CSP and nothing from elsewhere', async () => {
    const page = await raw(admin, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    const html = page.body.toString();
    assert.match(html, /<script type="importmap">\{"imports":/);
    assert.doesNotMatch(html, /https?:\/\//, 'the page names an outside address');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self' 'sha256-/);
    for (const [target, type] of [
      ['/dashboard/vendor/preact.mjs', 'text/javascript; charset=utf-8'],
      ['/dashboard/vendor/hooks.mjs', 'text/javascript; charset=utf-8'],
      ['/dashboard/vendor/htm.mjs', 'text/javascript; charset=utf-8'],
      ['/dashboard/vendor/uplot.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/vendor/uplot.css', 'text/css; charset=utf-8'],
      ['/dashboard/app/app.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/app/pages/browse.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/app/style.css', 'text/css; charset=utf-8'],
    ] as const) {
      const r = await raw(admin, target);
      assert.equal(r.status, 200, target);
      assert.equal(r.headers['content-type'], type, target);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(
        String(r.headers['cache-control']),
        target.includes('/vendor/') ? /max-age=86400/ : /no-cache/,
      );
      // gzip for those who ask, the same bytes; a revalidation is a 304.
      const gz = await raw(admin, target, { 'accept-encoding': 'gzip' });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.deepEqual(gunzipSync(gz.body), r.body);
      const again = await raw(admin, target, { 'if-none-match': String(r.headers.etag) });
      assert.equal(again.status, 304);
    }
  });

  test('no path leaves the asset folder or reaches node_modules', async () => {
    const pkg = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
    for (const target of [
      '/dashboard/app/../../../package.json',
      '/dashboard/app/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/dashboard/app/..%2f..%2f..%2fpackage.json',
      // Files that exist outside the folder, with extensions the dashboard serves.
      '/dashboard/app/..%2f..%2f..%2fnode_modules%2fpreact%2fdist%2fpreact.mjs',
      '/dashboard/app/..%2f..%2f..%2fdist%2fsrc%2fdashboard%2fapi.js',
      '/dashboard/app/%2e%2e%2f%2e%2e%2f%2e%2e%2fdist%2fsrc%2fdashboard%2fapi.js',
      '/dashboard/app/%2e%2e%2f%2e%2e%2fapi.ts',
      '/dashboard/app/..%5c..%5capi.ts',
      '/dashboard/app/%00.js',
      '/dashboard/app/%E0%A4%A',
      '/dashboard/vendor/../../package.json',
      '/dashboard/vendor/preact',
      '/dashboard/vendor/..%2fpackage.json',
      '/dashboard/app/',
      '/dashboard/app/pages',
    ]) {
      const r = await raw(admin, target);
      assert.notEqual(r.status, 200, `${target} answered 200: ${r.body.toString().slice(0, 80)}`);
      assert.ok(!r.body.toString().includes(pkg.slice(0, 60)), `${target} served package.json`);
      assert.ok(!r.body.toString().includes('import '), `${target} served source`);
    }
    // A directory inside the folder is not a file either.
    const dir = await raw(admin, '/dashboard/app/pages');
    assert.equal(dir.status, 404);
  });

  test('read-only views answer loopback without a token, and want it when the Host is not loopback', async () => {
    const open = await raw(admin, '/api/v1/dashboard/workers');
    assert.equal(open.status, 200);
    const { workers } = JSON.parse(open.body.toString()) as { workers: Array<{ id: string; state: string }> };
    assert.equal(workers.length, 1);
    assert.equal(workers[0]!.state, 'ACTIVE');
    // A page whose DNS name was rebound to 127.0.0.1 names its own host.
    const rebound = await raw(admin, '/api/v1/dashboard/browse?path=/m', { host: 'attacker.example' });
    assert.equal(rebound.status, 401);
    const withToken = await raw(admin, '/api/v1/dashboard/browse?path=/m', {
      host: 'attacker.example',
      authorization: `Bearer ${token}`,
    });
    assert.equal(withToken.status, 200);
    const session = JSON.parse((await raw(admin, '/api/v1/dashboard/session')).body.toString()) as {
      tokenRequired: boolean;
      authenticated: boolean;
    };
    assert.deepEqual([session.tokenRequired, session.authenticated], [true, false]);
  });

  test('Browse pages through a directory with after/limit and refuses bad paths and limits', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const q = `path=/m&limit=3${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
      const r = JSON.parse((await raw(admin, `/api/v1/dashboard/browse?${q}`)).body.toString()) as {
        entries: Array<{ path: string; owners: string[] }>;
        total: number;
        next?: string;
      };
      assert.equal(r.total, 7);
      assert.ok(r.entries.length <= 3);
      for (const e of r.entries) assert.equal(e.owners.length, 1);
      seen.push(...r.entries.map((e) => e.path));
      if (r.next === undefined) break;
      after = r.next;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 7 }, (_, i) => `/m/f${i}.txt`),
    );
    for (const [q, code] of [
      ['path=/m/../etc', 'INVALID_PATH'],
      ['path=m', 'INVALID_PATH'],
      ['path=/m&limit=0', 'INVALID_ARGUMENT'],
      ['path=/m&limit=501', 'INVALID_ARGUMENT'],
      ['path=/m&limit=x', 'INVALID_ARGUMENT'],
    ] as const) {
      const r = await raw(admin, `/api/v1/dashboard/browse?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal((JSON.parse(r.body.toString()) as { error: { code: string } }).error.code, code, q);
    }
    assert.equal((await raw(admin, '/api/v1/dashboard/browse?path=/nope')).status, 404);
    assert.equal((await raw(admin, '/api/v1/dashboard/nothing')).status, 404);
  });

  test('actions: bad input is a clear 400 with the token, 401 without, and changes nothing', async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = (body: string, headers: Record<string, string> = auth) =>
      raw(admin, '/api/v1/dashboard/actions', headers, 'POST', body);
    for (const [body, message] of [
      ['not json', /not JSON/],
      ['[]', /JSON object/],
      ['{"action":"delete","path":"/m/f0.txt"}', /must be one of load, free, pin, unpin/],
      ['{"action":"load"}', /"path"/],
      ['{"action":"load","path":"/m/../f0.txt"}', /\.\./],
      ['{"action":"load","path":"/m/f0.txt","extra":1}', /unknown field "extra"/],
    ] as const) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
      assert.match((JSON.parse(r.body.toString()) as { error: { message: string } }).error.message, message);
    }
    assert.equal((await post('{"action":"load","path":"/m/f0.txt"}', {})).status, 401);
    const stat = await runCli(['fs', 'stat', '--json', '/m/f0.txt'], { registry: strata.registry });
    assert.equal((JSON.parse(stat.stdout) as { cachedPercent: number }).cachedPercent, 0);
    // And with the token it is done: the file is cached.
    const done = await post('{"action":"load","path":"/m/f0.txt"}');
    assert.equal(done.status, 200);
    assert.equal(
      (JSON.parse(done.body.toString()) as { info: { cachedPercent: number } }).info.cachedPercent,
      100,
    );
    // A directory's load is a job, seen by the jobs API.
    const job = JSON.parse((await post('{"action":"load","path":"/m"}')).body.toString()) as {
      job: { id: string };
    };
    const listed = JSON.parse((await raw(admin, '/api/v1/dashboard/jobs')).body.toString()) as {
      available: boolean;
      jobs: Array<{ id: string; kind: string }>;
    };
    assert.equal(listed.available, true);
    assert.deepEqual(
      listed.jobs.map((j) => [j.id, j.kind]),
      [[job.job.id, 'load']],
    );
  });
});
