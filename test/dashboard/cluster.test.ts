import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { JobsClient } from '../../src/client/jobs-client.js';
import {
  clusterToken,
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
  workerMounts,
} from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { tempDir, waitFor } from '../helpers/local-process.js';
import { type Browser, launchBrowser, openPage, PAGES, screenshot } from './browser.js';

/**
 * One worker's dashboard shows the whole cluster: etcd, 3 `strata worker` and a `strata
 * scheduler`, all real processes; the browser talks to the first worker only.
 */

const FILES = 24;

describe('dashboard of a 3-worker cluster, in a real browser', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  let scheduler: RunningScheduler;
  let fs: ConnectedFileSystem;
  let jobs: JobsClient;
  let browser: Browser;
  let token: string;
  let admin: string;

  before(async () => {
    tmp = await tempDir('dashboard-cluster');
    const lake = join(tmp.dir, 'ufs', 'lake');
    await mkdir(join(lake, 'slow'), { recursive: true });
    for (let i = 0; i < FILES; i++) await writeFile(join(lake, `f${i}.bin`), Buffer.alloc(4096 + i, i));
    // The engine records progress once per batch of 128 files: 600 files, so a few batches.
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        writeFile(join(lake, 'slow', `s${i}.bin`), Buffer.alloc(2048, i % 256)),
      ),
    );
    etcd = await startEtcd();
    const env = { STRATA_DASHBOARD_SAMPLE_MS: '500' };
    for (let i = 0; i < 3; i++)
      workers.push(await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, `w${i}`)], env));
    fs = await connect(etcd.uri);
    await waitFor('3 workers in the ring', async () => (await fs.report()).workers.length === 3);
    await fs.mount('/lake', pathToFileURL(lake).href);
    token = await clusterToken(etcd.uri);
    await waitFor('the mount on every worker', async () => {
      for (const w of workers)
        if (!(await workerMounts(w.ready.addresses.worker, token)).includes('/lake')) return false;
      return true;
    });
    scheduler = await startScheduler(etcd.uri);
    jobs = new JobsClient(etcd.uri, { token });
    admin = workers[0]!.ready.addresses.admin;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await jobs?.close();
    await fs?.close();
    await scheduler?.stop();
    for (const w of workers) await w.stop();
    await etcd?.stop();
    await tmp?.cleanup();
  });

  test('the first worker lists all three workers, with their leases, and every page loads cleanly', async () => {
    const { page, errors } = await browser.page();
    await openPage(page, admin, 'workers');
    const ids = workers.map((w) => w.ready.id).sort();
    const rows = page.locator('[data-testid="worker-row"]');
    await waitFor('three worker rows', async () => ((await rows.count()) === 3 ? true : undefined));
    assert.deepEqual(
      (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-worker')))).sort(),
      ids,
    );
    // Each row's lease renewal came from that worker itself ("… s ago", not "—").
    for (const id of ids)
      assert.match((await page.locator(`[data-worker="${id}"] td`).nth(8).textContent()) ?? '', /s ago/);
    await openPage(page, admin, 'overview');
    assert.match((await page.locator('[data-testid="card-workers"]').textContent()) ?? '', /3 up/);
    for (const name of PAGES) {
      await openPage(page, admin, name, name === 'browse' ? '?path=%2Flake' : '');
      await screenshot(page, `cluster-${name}`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('Browse shows each file on its owner, and "load" caches a file another worker owns', async () => {
    const { page, errors } = await browser.page();
    await openPage(page, admin, 'browse', '?path=%2Flake');
    const owners = new Set(
      await page
        .locator('[data-testid="entry"] td.mono')
        .evaluateAll((els) => els.map((e) => (e.textContent ?? '').split(', ')[0])),
    );
    assert.ok(owners.size >= 2, `all ${FILES} files shown on one worker: ${[...owners].join(', ')}`);
    // A file whose primary owner is not the worker serving the page.
    const target = Array.from({ length: FILES }, (_, i) => `/lake/f${i}.bin`).find(
      (p) => fs.location(p)[0]!.id !== workers[0]!.ready.id,
    )!;
    await page.locator('[data-testid="token-input"]').fill(token);
    await page.locator('[data-testid="token-form"] button[type="submit"]').click();
    await page.locator('[data-testid="token-state"].ok').waitFor();
    await page.locator(`[data-testid="entry"][data-path="${target}"] [data-testid="action-load"]`).click();
    await page.locator('[data-testid="action-status"].ok').waitFor();
    assert.equal((await fs.status(target)).cachedPercent, 100);
    // Another worker read the store: the charts of the first worker show it (the merged history).
    await openPage(page, admin, 'charts');
    await waitFor('the store read on the charts', async () =>
      Number(await page.locator('[data-testid="chart-store"]').getAttribute('data-max')) > 0
        ? true
        : undefined,
    );
    await screenshot(page, 'cluster-charts-live');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('Jobs shows a running job live and cancels it', async () => {
    // 1.2 MiB at 48 KiB/s: a batch of 128 files every ~5 s, 25 s in all unless cancelled.
    const job = await jobs.submit('load', '/lake/slow', { bandwidth: 48 * 1024 });
    const { page, errors } = await browser.page();
    await page.goto(`${admin}/#/jobs`);
    await page.locator('[data-testid="token-input"]').fill(token);
    await page.locator('[data-testid="token-form"] button[type="submit"]').click();
    await page.locator('[data-testid="token-state"].ok').waitFor();
    const row = page.locator(`[data-testid="job-row"][data-job="${job.id}"]`);
    await row.locator('.state.running').waitFor({ timeout: 20_000 });
    // Progress moves on the page while the job runs.
    await waitFor('progress on the page', async () =>
      /^[1-9]\d* \/ /.test((await row.locator('.bar').textContent()) ?? '') ? true : undefined,
    );
    await screenshot(page, 'cluster-jobs-running');
    await row.locator('[data-testid="job-cancel"]').click();
    await row.locator('.state.cancelled').waitFor({ timeout: 20_000 });
    assert.equal((await jobs.get(job.id)).state, 'CANCELLED');
    assert.equal(await row.locator('[data-testid="job-cancel"]').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
