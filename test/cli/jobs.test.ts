import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.js';
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

const MiB = 1024 * 1024;
/** What the bar writes after each drawing: erase the rest of the line. */
const CLEAR_LINE = '\u001b[K';

/** A stand-in terminal for the CLI run in this process: isTTY, 100 columns, keeps what it got. */
class Terminal extends Writable {
  readonly isTTY = true;
  readonly columns = 100;
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
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
    await tree(join(ufs, 'big'), 10, 100);
    await tree(join(ufs, 'resume'), 60, 100);
    await tree(join(ufs, 'slow'), 1, 50, MiB);
    await tree(join(ufs, 'paced'), 4, 128, 16 * 1024);
    await tree(join(ufs, 'rated'), 1, 5, 64 * 1024);
    await tree(join(ufs, 'fsload'), 2, 25, 4096);
    await mkdir(join(ufs, 'lists'));
    const listed = ['/m/small/d001/f3.bin', '/m/small/d002/f7.bin', '/m/fsload/d001/f24.bin'];
    await writeFile(join(ufs, 'lists', 'three.txt'), `${listed.join('\n')}\n`);
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

  test('bad input: unknown id, missing path, path outside every mount, bad flag values, a move onto itself', async () => {
    const before = await cli(['job', 'ls', '--json']);
    const usage = /\nusage: strata job /;
    const cases: Array<[string[], RegExp, number]> = [
      [['job', 'status', 'no-such-job'], /^strata: NOT_FOUND: no job no-such-job/, 2],
      [['job', 'status', '--watch', 'no-such-job'], /^strata: NOT_FOUND: no job no-such-job/, 2],
      [['job', 'wait', 'no-such-job'], /^strata: NOT_FOUND: /, 2],
      [['job', 'cancel', 'no-such-job'], /^strata: NOT_FOUND: /, 2],
      [['job', 'load', '/m/no-such-dir'], /^strata: NOT_FOUND: /, 2],
      [['job', 'load', '/elsewhere/x'], /^strata: NOT_MOUNTED: /, 2],
      [['job', 'free', '/elsewhere'], /^strata: NOT_MOUNTED: /, 2],
      [['job', 'persist', '/m/nothing-here'], /^strata: NOT_FOUND: /, 2],
      [['job', 'ls', '--state', 'SLEEPING'], /^strata: INVALID_ARGUMENT: /, 64],
      [
        ['job', 'load', '--bandwidth', 'fast', '/m/small'],
        /^strata: --bandwidth: cannot parse "fast" \(examples: 20MiB\/s/,
        64,
      ],
      [['job', 'load', '--bandwidth=-5MiB/s', '/m/small'], /^strata: --bandwidth: cannot parse/, 64],
      [['job', 'free', '--bandwidth', '20MiB/min', '/m/small'], /^strata: --bandwidth: cannot parse/, 64],
      [['job', 'copy', '--bandwidth', 'x', '/m/small', '/m/c'], /^strata: --bandwidth: cannot parse/, 64],
      [
        ['job', 'load', '--replicas', '0', '/m/small'],
        /^strata: --replicas must be a whole number ≥ 1, got "0"/,
        64,
      ],
      [['job', 'load', '--replicas', 'two', '/m/small'], /^strata: --replicas must be a whole number/, 64],
      [['job', 'load'], /^strata: missing PATH \(or --from-list LIST\)/, 64],
      [
        ['job', 'load', '/m/small', '--from-list', '/m/lists/three.txt'],
        /^strata: give either PATH or --from-list/,
        64,
      ],
      [['job', 'copy', '/m/small'], /^strata: missing argument/, 64],
      [['job', 'move', '/m/small', '/m/small'], /^strata: [A-Z_]+: .*(itself|same)/, 64],
      [['job', 'load', '--colour', 'red', '/m/small'], /^strata: Unknown option '--colour'/, 64],
    ];
    for (const [args, message, code] of cases) {
      const r = await cli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      if (r.stderr.startsWith('strata: -') || /cannot parse|must be a whole|missing|either/.test(r.stderr))
        assert.match(r.stderr, usage, `${args.join(' ')} prints its usage`);
      assert.equal(r.stdout, '', args.join(' '));
    }
    const later = await cli(['job', 'ls', '--json']);
    assert.equal(later.stdout, before.stdout, 'no job was added');
    assert.equal((await cli(['fs', 'stat', '/m/small/d000/f0.bin'])).code, 0, 'the move changed nothing');
  });

  test('--bandwidth RATE reaches the job in bytes per second: 20MiB/s is 20971520', async () => {
    const r = await cli(['job', 'load', '--bandwidth', '20MiB/s', '--wait', '--json', '/m/rated']);
    assert.equal(r.code, 0, r.stderr);
    const job = parseJob(r.stdout);
    assert.equal(job.options.bandwidth, 20_971_520);
    assert.equal(job.state, 'SUCCEEDED');
    assert.equal(job.filesDone, 5);
    const free = await cli(['job', 'free', '--bandwidth', '1.5GiB/s', '--json', '/m/rated']);
    assert.equal(free.code, 0, free.stderr);
    assert.equal(parseJob(free.stdout).options.bandwidth, 1.5 * 1024 * MiB);
  });

  test('job status --watch: JSON lines when stdout is a pipe, a bar redrawn in place on a terminal', async () => {
    // 8 MiB in 4 batches at 2 MiB/s: a few seconds of progress to watch.
    const start = await cli(['job', 'load', '--bandwidth', '2MiB/s', '--json', '/m/paced']);
    assert.equal(start.code, 0, start.stderr);
    const id = parseJob(start.stdout).id;
    const terminal = new Terminal();
    const stderr = new Terminal();
    const io = { stdout: terminal, stderr, stdin: process.stdin };
    const [piped, drawn] = await Promise.all([
      cli(['job', 'status', '--watch', id]),
      main(['--registry', strata!.registry, 'job', 'status', '--watch', id], io),
    ]);

    assert.equal(piped.code, 0, piped.stderr);
    const lines = piped.stdout.trim().split('\n');
    const jobs = lines.map((l) => JSON.parse(l) as JobInfo);
    assert.ok(jobs.length >= 3, `one line per change: ${lines.length} lines`);
    assert.ok(jobs.every((j) => j.id === id));
    assert.equal(jobs.at(-1)?.state, 'SUCCEEDED');
    assert.ok(jobs.slice(0, -1).every((j) => j.state === 'PENDING' || j.state === 'RUNNING'));
    for (let i = 1; i < jobs.length; i++) {
      assert.notEqual(lines[i], lines[i - 1], 'a line only when the job changed');
      assert.ok((jobs[i]?.filesDone ?? 0) >= (jobs[i - 1]?.filesDone ?? 0));
    }
    assert.ok(
      jobs.some((j) => j.filesDone > 0 && j.filesDone < 512),
      'progress seen mid-way',
    );
    assert.equal(jobs.at(-1)?.filesDone, 512);

    assert.equal(drawn, 0, stderr.text);
    const frames = terminal.text.split('\r').filter((f) => f !== '');
    assert.ok(frames.length >= 3, `redrawn in place: ${JSON.stringify(terminal.text.slice(0, 400))}`);
    assert.equal(terminal.text.split('\n').length, 2, 'one line, ended once');
    for (const f of frames) {
      const line = f.split(CLEAR_LINE)[0] ?? '';
      assert.ok(line.length <= 99, `fits the terminal: ${line}`);
      assert.match(
        line,
        /^(PENDING|RUNNING|SUCCEEDED) {2}load \/m\/paced {2}\[[#-]+\] {2}(\?|\d+)% {2}\d+\/(\d+\+?|\?) files/,
      );
    }
    assert.ok(
      frames.slice(0, -1).some((f) => /MiB\/s|KiB\/s/.test(f)),
      'a rate while running',
    );
    const last = frames.at(-1) ?? '';
    assert.ok(last.endsWith(`${CLEAR_LINE}\n`), JSON.stringify(last));
    assert.match(
      last.split(CLEAR_LINE)[0] ?? '',
      /^SUCCEEDED {2}load \/m\/paced {2}\[#+\] {2}100% {2}512\/512 files {2}8\.0MiB\/8\.0MiB {2}in \d+s {2}0 failed$/,
    );
  });

  test('job load --wait on a terminal: the bar on stderr, the id alone on stdout', async () => {
    const stdout = new Terminal();
    const stderr = new Terminal();
    const code = await main(
      ['--registry', strata!.registry, 'job', 'load', '--bandwidth', '4MiB/s', '--wait', '/m/paced'],
      { stdout, stderr, stdin: process.stdin },
    );
    assert.equal(code, 0, stderr.text);
    assert.match(stdout.text, /^[0-9a-f-]{36}\n$/);
    assert.match(stderr.text, /\rSUCCEEDED {2}load \/m\/paced {2}\[#+\] {2}100% {2}512\/512 files/);
  });

  test('fs load and fs free run as jobs: same lines as before, and the jobs are in job ls', async () => {
    const load = await cli(['fs', 'load', '/m/fsload']);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(load.stdout, `loaded 50 files, ${50 * 4096} bytes (200.0KiB) under /m/fsload\n`);
    assert.equal(load.stderr, '', 'no fallback note: the scheduler ran it');
    const ls = (await cli(['job', 'ls', '--json'])).stdout.trim().split('\n');
    const loads = ls.map((l) => JSON.parse(l) as JobInfo).filter((j) => j.path === '/m/fsload');
    assert.equal(loads.length, 1);
    assert.equal(loads[0]?.kind, 'load');
    assert.equal(loads[0]?.state, 'SUCCEEDED');
    const stat = await cli(['fs', 'stat', '--json', '/m/fsload/d001/f24.bin']);
    assert.equal(JSON.parse(stat.stdout).cachedPercent, 100);

    const json = await cli(['fs', 'load', '--json', '/m/fsload']);
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as { files: number; bytes: number; job: string };
    assert.equal(summary.files, 50);
    assert.equal(summary.bytes, 50 * 4096);
    assert.match(summary.job, /^[0-9a-f-]{36}$/);
    assert.notEqual(summary.job, loads[0]?.id, 'a new job once the first has ended');

    const free = await cli(['fs', 'free', '/m/fsload']);
    assert.equal(free.code, 0, free.stderr);
    assert.match(free.stdout, /^freed 50 files, \d+ bytes \(.*\) under \/m\/fsload\n$/);
    const frees = (await cli(['job', 'ls', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JobInfo)
      .filter((j) => j.kind === 'free' && j.path === '/m/fsload');
    assert.equal(frees.length, 1);
    const after = await cli(['fs', 'stat', '--json', '/m/fsload/d001/f24.bin']);
    assert.equal(JSON.parse(after.stdout).cachedPercent, 0);
    // A missing path is still an error with its code, and no line.
    const missing = await cli(['fs', 'load', '/m/not-there']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^strata: NOT_FOUND: /);
    assert.equal(missing.stdout, '');
  });

  test('job copy SRC DST and job load --from-list reach the API as dst and fromList', async () => {
    const copy = await cli(['job', 'copy', '--wait', '--json', '/m/small/d000', '/m/copied']);
    assert.equal(copy.code, 0, copy.stderr);
    const job = parseJob(copy.stdout);
    assert.equal(job.kind, 'copy');
    assert.equal(job.path, '/m/small/d000');
    assert.equal(job.dst, '/m/copied');
    assert.equal(job.state, 'SUCCEEDED');
    assert.equal(job.filesDone, 75);
    const stat = await cli(['fs', 'stat', '--json', '/m/copied/f74.bin']);
    assert.equal(JSON.parse(stat.stdout).size, 2048);

    const listed = await cli(['job', 'load', '--from-list', '/m/lists/three.txt', '--wait', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const fromList = parseJob(listed.stdout);
    assert.equal(fromList.fromList, '/m/lists/three.txt');
    assert.equal(fromList.state, 'SUCCEEDED');
    assert.equal(fromList.filesTotal, 3);
  });

  test('strata help lists every job command', async () => {
    const help = await runCli(['help']);
    assert.equal(help.code, 0);
    for (const c of ['load', 'free', 'persist', 'copy', 'move', 'ls', 'status', 'cancel', 'wait'])
      assert.match(help.stdout, new RegExp(`^  job ${c} `, 'm'), `job ${c}`);
    const load = await runCli(['help', 'job', 'load']);
    for (const f of ['--replicas N', '--verify', '--bandwidth RATE', '--from-list LIST', '--wait', '--json'])
      assert.ok(load.stdout.includes(f), f);
  });

  test('a cancelled job: wait exits non-zero and the job says CANCELLED; a new --bandwidth updates the running job', async () => {
    // 50 MiB at 1 MiB/s: still running, whatever the machine, when it is cancelled.
    const start = await cli(['job', 'load', '--bandwidth', '1MiB/s', '/m/slow', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const first = parseJob(start.stdout);
    assert.equal(first.options.bandwidth, MiB);
    // The same load again answers the job already there, at the new rate.
    const again = await cli(['job', 'load', '--bandwidth', '2MiB/s', '/m/slow', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(parseJob(again.stdout).id, first.id);
    assert.equal(parseJob(again.stdout).options.bandwidth, 2 * MiB);
    const id = first.id;
    await waitFor('the job to run', async () => {
      const s = parseJob((await cli(['job', 'status', '--json', id])).stdout);
      return s.state === 'RUNNING';
    });
    assert.equal(parseJob((await cli(['job', 'status', '--json', id])).stdout).options.bandwidth, 2 * MiB);
    const cancel = await cli(['job', 'cancel', id, '--json']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(parseJob(cancel.stdout).state, 'CANCELLED');
    const wait = await cli(['job', 'wait', id]);
    assert.equal(wait.code, 130, wait.stderr);
    assert.match(wait.stderr, /^strata: CANCELLED: /);
    const watch = await cli(['job', 'status', '--watch', id]);
    assert.equal(watch.code, 130, 'status --watch exits as job wait does');
    assert.equal(parseJob(watch.stdout).state, 'CANCELLED');
    const status = parseJob((await cli(['job', 'status', id, '--json'])).stdout);
    assert.equal(status.state, 'CANCELLED');
    assert.ok(status.filesDone < 50, `${status.filesDone} of 50 files loaded`);
    assert.ok(status.bytesDone < 50 * MiB);
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
