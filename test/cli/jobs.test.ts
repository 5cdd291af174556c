import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { JobInfo } from '../../src/client/jobs-client.js';
import { type RunningStrata, runCli, startLocal, tempDir, waitFor } from '../helpers/local-process.js';

/** `strata job …` against a real `strata local` child process and its embedded scheduler. */

async function tree(root: string, dirs: number, perDir: number, size = 1024): Promise<number> {
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `d${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < perDir; f++)
      await writeFile(join(dir, `f${f}.bin`), Buffer.alloc(size, (d + f) % 251));
  }
  return dirs * perDir;
}

function parseJob(stdout: string): JobInfo {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as JobInfo;
}

describe('strata job against strata local', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let strata: RunningStrata | undefined;
  let data: string;
  let ufs: string;

  before(async () => {
    tmp = await tempDir('jobs');
    data = join(tmp.dir, 'data');
    ufs = join(tmp.dir, 'ufs');
    await tree(join(ufs, 'small'), 4, 75, 2048);
    await tree(join(ufs, 'big'), 60, 100);
    await tree(join(ufs, 'resume'), 60, 100);
    strata = await startLocal(['--data-dir', data, '--mount', `/m=${pathToFileURL(ufs)}`]);
  });

  after(async () => {
    await strata?.stop();
    await tmp.cleanup();
  });

  const cli = (args: string[]) => runCli(args, { registry: strata!.registry });

  test('job load DIR --wait --json loads every file; ls, status and wait agree', async () => {
    const r = await cli(['job', 'load', '/m/small', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = parseJob(r.stdout);
    assert.equal(job.state, 'SUCCEEDED');
    assert.equal(job.kind, 'load');
    assert.equal(job.path, '/m/small');
    assert.equal(job.filesTotal, 300);
    assert.equal(job.filesDone, job.filesTotal);
    assert.equal(job.bytesDone, 300 * 2048);
    assert.equal(job.bytesDone, job.bytesTotal);
    assert.equal(job.filesFailed, 0);
    assert.deepEqual(job.failures, []);

    const stat = await cli(['fs', 'stat', '--json', '/m/small/d003/f74.bin']);
    assert.equal(JSON.parse(stat.stdout).cachedPercent, 100);
    const du = await cli(['fs', 'du', '/m/small']);
    assert.match(du.stdout, /100%/);

    const ls = await cli(['job', 'ls', '--state', 'SUCCEEDED', '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(ls.stdout.split('\n').some((l) => l.includes(job.id)));
    const none = await cli(['job', 'ls', '--state', 'PENDING', '--json']);
    assert.equal(none.stdout.includes(job.id), false);

    const status = await cli(['job', 'status', job.id]); // stdout is a pipe: JSON lines
    assert.equal(status.code, 0, status.stderr);
    assert.equal(parseJob(status.stdout).state, 'SUCCEEDED');
    const wait = await cli(['job', 'wait', job.id]);
    assert.equal(wait.code, 0, wait.stderr);

    // A plain load prints the id only; free empties the cache again.
    const free = await cli(['job', 'free', '/m/small', '--wait']);
    assert.equal(free.code, 0, free.stderr);
    assert.match(free.stdout.trim(), /^[0-9a-f-]{36}$/);
    const after = await cli(['fs', 'stat', '--json', '/m/small/d003/f74.bin']);
    assert.equal(JSON.parse(after.stdout).cachedPercent, 0);
  });

  test('admin API: token required, 201 for a new job, 200 with the unfinished one of the same kind and path, errors from the table', async () => {
    const base = strata!.registry;
    const tokenFile = (strata!.ready as unknown as { tokenFile: string }).tokenFile;
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const anonymous = await fetch(`${base}/api/v1/jobs`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');

    const body = JSON.stringify({ kind: 'load', path: '/m/big', options: { metadataOnly: true } });
    const created = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: auth, body });
    assert.equal(created.status, 201);
    const job = (await created.json()) as JobInfo;
    assert.equal(job.kind, 'load');
    assert.deepEqual(job.options, {
      replicas: 1,
      skipIfCached: false,
      metadataOnly: true,
      verify: false,
      bandwidth: 0,
    });
    const twice = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: auth, body });
    assert.equal(twice.status, 200);
    assert.equal(((await twice.json()) as JobInfo).id, job.id);
    const cancel = await fetch(`${base}/api/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: auth });
    assert.equal(cancel.status, 200);
    assert.equal(((await cancel.json()) as JobInfo).state, 'CANCELLED');
    const got = await fetch(`${base}/api/v1/jobs/${job.id}`, { headers: auth });
    assert.equal(((await got.json()) as JobInfo).state, 'CANCELLED');

    const bad = await fetch(`${base}/api/v1/jobs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ kind: 'load', path: '/m/big', options: { colour: 'red' } }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    const missing = await fetch(`${base}/api/v1/jobs/nope`, { headers: auth });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  test('bad input: unknown id, missing path, path outside every mount, unbuilt kinds', async () => {
    const before = await cli(['job', 'ls', '--json']);
    const cases: Array<[string[], RegExp, number]> = [
      [['job', 'status', 'no-such-job'], /^strata: NOT_FOUND: no job no-such-job/, 2],
      [['job', 'wait', 'no-such-job'], /^strata: NOT_FOUND: /, 2],
      [['job', 'cancel', 'no-such-job'], /^strata: NOT_FOUND: /, 2],
      [['job', 'load', '/m/no-such-dir'], /^strata: NOT_FOUND: /, 2],
      [['job', 'load', '/elsewhere/x'], /^strata: NOT_MOUNTED: /, 2],
      [['job', 'free', '/elsewhere'], /^strata: NOT_MOUNTED: /, 2],
      [['job', 'persist', '/m/small'], /^strata: UNSUPPORTED: /, 69],
      [['job', 'copy', '/m/small', '/m/copy'], /^strata: UNSUPPORTED: /, 69],
      [['job', 'move', '/m/small', '/m/moved'], /^strata: UNSUPPORTED: /, 69],
      [['job', 'ls', '--state', 'SLEEPING'], /^strata: INVALID_ARGUMENT: /, 64],
    ];
    for (const [args, message, code] of cases) {
      const r = await cli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    const later = await cli(['job', 'ls', '--json']);
    assert.equal(later.stdout, before.stdout, 'no job was added');
  });

  test('a cancelled job: wait exits non-zero and the job says CANCELLED', async () => {
    const start = await cli(['job', 'load', '/m/big', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const id = parseJob(start.stdout).id;
    // The same load again answers the job already there.
    const again = await cli(['job', 'load', '/m/big', '--json']);
    assert.equal(parseJob(again.stdout).id, id);
    await waitFor('the job to run', async () => {
      const s = parseJob((await cli(['job', 'status', '--json', id])).stdout);
      return s.state === 'RUNNING';
    });
    const cancel = await cli(['job', 'cancel', id, '--json']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(parseJob(cancel.stdout).state, 'CANCELLED');
    const wait = await cli(['job', 'wait', id]);
    assert.equal(wait.code, 130, wait.stderr);
    assert.match(wait.stderr, /^strata: CANCELLED: /);
    const status = parseJob((await cli(['job', 'status', id, '--json'])).stdout);
    assert.equal(status.state, 'CANCELLED');
    assert.ok(status.filesDone < 6000);
  });

  test('a job RUNNING when strata local is stopped resumes on the next start and succeeds', async () => {
    const start = await cli(['job', 'load', '/m/resume', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const id = parseJob(start.stdout).id;
    const seen = await waitFor(
      'the job to make progress',
      async () => {
        const s = parseJob((await cli(['job', 'status', '--json', id])).stdout);
        return s.state === 'RUNNING' && s.filesDone > 0 ? s : undefined;
      },
      60_000,
    );
    const first = strata!;
    assert.equal(await first.stop(), 0);
    // It was stopped, not finished: the first process never logged the job's end.
    assert.equal(
      first.stderr().includes(`"job_end","id":"${id}"`),
      false,
      'the job had ended before the stop',
    );
    strata = await startLocal(['--data-dir', data, '--mount', `/m=${pathToFileURL(ufs)}`]);
    const resumed = parseJob((await cli(['job', 'status', '--json', id])).stdout);
    assert.ok(resumed.filesDone >= seen.filesDone, 'progress kept across the restart');
    assert.ok(
      resumed.state === 'RUNNING' || resumed.state === 'PENDING' || resumed.state === 'SUCCEEDED',
      resumed.state,
    );
    const wait = await cli(['job', 'wait', '--json', id]);
    assert.equal(wait.code, 0, wait.stderr);
    const end = parseJob(wait.stdout);
    assert.equal(end.state, 'SUCCEEDED');
    assert.equal(end.filesDone, 6000);
    assert.equal(end.filesTotal, 6000);
    assert.equal(end.bytesDone, 6000 * 1024);
    const stat = await cli(['fs', 'stat', '--json', '/m/resume/d059/f99.bin']);
    assert.equal(JSON.parse(stat.stdout).cachedPercent, 100);
  });
});
