import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { JobInfo } from '../../src/core/jobs.js';
import { startLocal, tempDir } from '../helpers/local-process.js';
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
