import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { JobInfo } from '../../src/core/jobs.js';
import { runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';

test('strata local: a job through the API is counted on /metrics (strata_jobs, strata_job_*, strata_scheduler_leader 1)', async () => {
  const { dir, cleanup } = await tempDir('strata-local-jobs-');
  const ufs = join(dir, 'ufs');
  await mkdir(join(ufs, 'set'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(ufs, 'set', `f${i}`), Buffer.alloc(2048 + i, i));
  const strata = await startLocal(['--data-dir', join(dir, 'data'), '--mount', `/m=${pathToFileURL(ufs)}`]);
  try {
    const base = strata.ready.addresses.admin!;
    const tokenFile = (strata.ready as unknown as { tokenFile: string }).tokenFile;
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = await fetch(`${base}/api/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ kind: 'load', path: '/m/set', options: { bandwidth: 10 * 1024 * 1024 } }),
    });
    assert.equal(post.status, 201);
    const job = (await post.json()) as JobInfo;
    assert.equal(job.pagesRepaired, 0);
    const end = await waitFor(
      async () => {
        const r = (await (await fetch(`${base}/api/v1/jobs/${job.id}`, { headers })).json()) as JobInfo;
        return r.state === 'SUCCEEDED' ? r : undefined;
      },
      { what: 'the load to succeed', timeoutMs: 60_000 },
    );
    assert.equal(end.filesDone, 40);
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return /strata_jobs\{kind="load",state="SUCCEEDED"\} 1\b/.test(text) ? text : undefined;
      },
      { what: 'strata_jobs on /metrics' },
    );
    assert.match(metrics, /strata_job_files_processed_total\{kind="load",outcome="done"\} 40\b/);
    assert.match(metrics, /strata_job_bytes_processed_total\{kind="load"\} \d+/);
    assert.match(metrics, /strata_scheduler_leader 1\b/);
    assert.match(metrics, /# TYPE strata_job_throttled_seconds_total counter/);
    assert.match(
      metrics,
      /strata_cache_hit_bytes_total|strata_ufs_read_bytes_total/,
      'beside the worker series',
    );
  } finally {
    await strata.stop();
    await cleanup();
  }
});

test('strata local --max-running 1 --job-retention 1s: one job at a time, ended jobs purged; bad values refused', async () => {
  const { dir, cleanup } = await tempDir('strata-local-limits-');
  const ufs = join(dir, 'ufs');
  for (const d of ['a', 'b']) {
    await mkdir(join(ufs, d), { recursive: true });
    for (let i = 0; i < 8; i++) await writeFile(join(ufs, d, `f${i}`), Buffer.alloc(64 * 1024, i));
  }
  const bad = await runCli(['local', '--port', '0', '--data-dir', join(dir, 'bad'), '--max-running', '0']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--max-running must be an integer/);
  const strata = await startLocal([
    '--data-dir',
    join(dir, 'data'),
    '--mount',
    `/m=${pathToFileURL(ufs)}`,
    '--max-running',
    '1',
    '--job-retention',
    '1s',
  ]);
  try {
    const base = strata.ready.addresses.admin!;
    const tokenFile = (strata.ready as unknown as { tokenFile: string }).tokenFile;
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const ids: string[] = [];
    for (const d of ['a', 'b']) {
      const post = await fetch(`${base}/api/v1/jobs`, {
        method: 'POST',
        headers,
        // 512 KiB at 512 KiB/s: each runs about a second, so both are unfinished together.
        body: JSON.stringify({ kind: 'load', path: `/m/${d}`, options: { bandwidth: 512 * 1024 } }),
      });
      assert.equal(post.status, 201);
      ids.push(((await post.json()) as JobInfo).id);
    }
    let most = 0;
    let sawPending = false;
    // Each job is seen SUCCEEDED at some poll (the first may be purged before the second ends).
    const succeeded = new Set<string>();
    await waitFor(
      async () => {
        const { jobs } = (await (await fetch(`${base}/api/v1/jobs`, { headers })).json()) as {
          jobs: JobInfo[];
        };
        const mine = jobs.filter((j) => ids.includes(j.id));
        most = Math.max(most, mine.filter((j) => j.state === 'RUNNING').length);
        if (mine.some((j) => j.state === 'PENDING')) sawPending = true;
        for (const j of mine) if (j.state === 'SUCCEEDED') succeeded.add(j.id);
        return succeeded.size === 2 ? true : undefined;
      },
      { what: 'both jobs to succeed', timeoutMs: 60_000, intervalMs: 50 },
    );
    assert.equal(most, 1, 'never more than --max-running jobs RUNNING');
    assert.ok(sawPending, 'the second job waited PENDING');
    await waitFor(
      async () => {
        const codes = await Promise.all(
          ids.map(async (id) => (await fetch(`${base}/api/v1/jobs/${id}`, { headers })).status),
        );
        return codes.every((c) => c === 404) ? true : undefined;
      },
      { what: 'the ended jobs to be purged after --job-retention', timeoutMs: 30_000 },
    );
  } finally {
    await strata.stop();
    await cleanup();
  }
});
