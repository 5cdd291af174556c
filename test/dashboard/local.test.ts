import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { ACCESS_KEY, SECRET_KEY } from '../gateway/harness.js';
import {
  metric,
  type RunningStrata,
  runCli,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';
import { type Browser, launchBrowser, openPage, PAGES, SCREENSHOTS, screenshot } from './browser.js';

/**
 * The dashboard of a real `strata local` in Debian's chromium: every page loads without a console
 * error; an S3 read raises the hit ratio the page shows; "load" in Browse caches a file (page and
 * `strata fs stat` agree); an action without the token is refused and changes nothing.
 */

const MiB = 1024 * 1024;

describe('dashboard of strata local, in a real browser', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let browser: Browser;
  let admin: string;
  let token: string;
  let s3: S3Client;
  const iris = 'sepal,petal\n5.1,1.4\n4.9,1.4\n'.repeat(2000);

  const cli = async (args: string[]) => {
    const r = await runCli(args, { registry: strata.registry });
    assert.equal(r.code, 0, `strata ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const text = async (page: Page, testid: string) =>
    ((await page.locator(`[data-testid="${testid}"]`).first().textContent()) ?? '').trim();
  const row = (page: Page, path: string) => page.locator(`[data-testid="entry"][data-path="${path}"]`);

  before(async () => {
    tmp = await tempDir('dashboard');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'sub'), { recursive: true });
    await writeFile(join(ufs, 'iris.csv'), iris);
    await writeFile(join(ufs, 'big.bin'), Buffer.alloc(3 * MiB + 12345, 9));
    await writeFile(join(ufs, 'never.bin'), Buffer.alloc(MiB, 3));
    await writeFile(join(ufs, 'sub', 'x.txt'), 'x\n');
    strata = await startLocal(
      ['--data-dir', join(tmp.dir, 'data'), '--mount', `/data=${pathToFileURL(ufs).href}`],
      {
        STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
        STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
        // Charts from a few seconds of history instead of minutes.
        STRATA_DASHBOARD_SAMPLE_MS: '500',
      },
    );
    admin = strata.ready.addresses.admin!;
    token = (await readFile(join(tmp.dir, 'data', 'token'), 'utf8')).trim();
    s3 = new S3Client({
      endpoint: strata.ready.addresses.s3!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      maxAttempts: 1,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    s3?.destroy();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('every page loads with no console error, and is screenshotted', async () => {
    const { page, errors } = await browser.page();
    for (const name of PAGES) {
      await openPage(page, admin, name, name === 'browse' ? '?path=%2Fdata' : '');
      const file = await screenshot(page, `local-${name}`);
      assert.ok((await readFile(file)).length > 1000, `${file} is not a screenshot`);
    }
    // The pages show what the API says: the mount, its files, the one worker.
    await openPage(page, admin, 'mounts');
    assert.equal(await text(page, 'mount-uri'), pathToFileURL(join(tmp.dir, 'ufs')).href);
    await openPage(page, admin, 'workers');
    assert.equal(await page.locator('[data-testid="worker-row"]').count(), 1);
    await openPage(page, admin, 'browse', '?path=%2Fdata');
    for (const p of ['/data/big.bin', '/data/iris.csv', '/data/never.bin', '/data/sub'])
      assert.equal(await row(page, p).count(), 1, `${p} is not listed`);
    assert.deepEqual(errors, []);
    await page.close();
    process.stderr.write(`dashboard screenshots: ${SCREENSHOTS}\n`);
  });

  test('a file read through the S3 gateway raises the hit ratio the overview shows', async () => {
    const { page, errors } = await browser.page();
    await openPage(page, admin, 'overview');
    const before = Number.parseFloat(await text(page, 'hit-ratio'));
    assert.equal(before, 0, 'nothing was read yet');
    for (let i = 0; i < 2; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'iris.csv' }));
      assert.equal(await got.Body!.transformToString(), iris);
    }
    // The first GET missed, the second was served from the cache: half the bytes were hits.
    assert.equal(await metric(admin, 'strata_cache_hit_bytes_total'), iris.length);
    const shown = await waitFor('the overview to show the new hit ratio', async () => {
      const v = Number.parseFloat(await text(page, 'hit-ratio'));
      return v > before ? v : undefined;
    });
    assert.equal(shown, 50);
    // The charts, from the in-memory history: the reads show as cache throughput and a hit ratio.
    await openPage(page, admin, 'charts');
    const chart = (id: string, attr: string) =>
      page
        .locator(`[data-testid="${id}"]`)
        .getAttribute(attr)
        .then((v) => Number(v));
    await waitFor('the charts to draw the reads', async () =>
      (await chart('chart-cache', 'data-max')) > 0 && (await chart('chart-hit-ratio', 'data-max')) > 0
        ? true
        : undefined,
    );
    assert.ok((await chart('chart-store', 'data-max')) >= iris.length / 10, 'the first GET read the store');
    await screenshot(page, 'local-charts-live');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('"load" in Browse makes a file 100 % cached, on the page and in strata fs stat', async () => {
    const { page, errors } = await browser.page();
    await openPage(page, admin, 'browse', '?path=%2Fdata');
    await page.locator('[data-testid="token-input"]').fill(token);
    await page.locator('[data-testid="token-form"] button[type="submit"]').click();
    await page.locator('[data-testid="token-state"].ok').waitFor();
    assert.equal(
      (await row(page, '/data/big.bin').locator('[data-testid="cached"]').textContent())?.trim(),
      '0 %',
    );
    await row(page, '/data/big.bin').locator('[data-testid="action-load"]').click();
    await page.locator('[data-testid="action-status"].ok').waitFor();
    assert.match(await text(page, 'action-status'), /load \/data\/big\.bin: done, now 100 % cached/);
    await waitFor('the row to show 100 %', async () =>
      (await row(page, '/data/big.bin').locator('[data-testid="cached"]').textContent())?.trim() === '100 %'
        ? true
        : undefined,
    );
    const stat = await cli(['fs', 'stat', '/data/big.bin']);
    assert.match(stat, new RegExp(`cached:\\s+${3 * MiB + 12345} bytes \\(100%\\)`));
    // Pin and unpin go through the same gate.
    await row(page, '/data/big.bin').locator('[data-testid="action-pin"]').click();
    await waitFor('the row to show pinned', async () =>
      (await row(page, '/data/big.bin').locator('[data-testid="pinned"]').textContent()) === 'pinned'
        ? true
        : undefined,
    );
    assert.equal(
      (JSON.parse(await cli(['fs', 'stat', '--json', '/data/big.bin'])) as { pinned: boolean }).pinned,
      true,
    );
    await screenshot(page, 'local-browse-loaded');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('an action without the token is refused, and nothing changes', async () => {
    // A new tab: its sessionStorage holds no token.
    const { page, errors } = await browser.page();
    await openPage(page, admin, 'browse', '?path=%2Fdata');
    await page.locator('[data-testid="token-state"].muted').waitFor();
    for (const action of ['load', 'pin'] as const) {
      await row(page, '/data/never.bin').locator(`[data-testid="action-${action}"]`).click();
      await page.locator('[data-testid="action-status"].error').waitFor();
      assert.match(
        await text(page, 'action-status'),
        new RegExp(`${action} /data/never\\.bin refused: UNAUTHENTICATED`),
      );
    }
    // The browser logged the refused request (HTTP 401), and nothing else.
    assert.ok(errors.length > 0 && errors.every((e) => /401/.test(e)), errors.join('\n'));
    const info = JSON.parse(await cli(['fs', 'stat', '--json', '/data/never.bin'])) as {
      cachedPercent: number;
      pinned: boolean;
    };
    assert.deepEqual([info.cachedPercent, info.pinned], [0, false]);
    // The API itself, without and with a wrong token: 401, and the file is still not cached.
    for (const headers of [{}, { authorization: `Bearer ${token}x` }]) {
      const res = await fetch(`${admin}/api/v1/dashboard/actions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ action: 'load', path: '/data/never.bin' }),
      });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
    }
    const res = await fetch(`${admin}/api/v1/dashboard/jobs/nope/cancel`, { method: 'POST' });
    assert.equal(res.status, 401);
    assert.match(await cli(['fs', 'stat', '/data/never.bin']), /cached:\s+0 bytes \(0%\)/);
    await page.close();
  });
});
