import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type Browser, launchBrowser } from '../dashboard/browser.js';
import { ACCESS_KEY, aws, type Harness, run, SECRET_KEY, startHarness } from './harness.js';

/**
 * Debian's Chromium (playwright-core) against the gateway from a page of another origin (a server
 * of this test on its own port): a real HTML form upload to a boto3 presigned POST, and
 * cross-origin fetch GET and PUT of presigned URLs, blocked by the browser until the bucket has a
 * CORS rule for the page's origin.
 */

const PRESIGN = fileURLToPath(new URL('../../../test/gateway/browser_presign.py', import.meta.url));
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

interface Presigned {
  post: { url: string; fields: Record<string, string> };
  post201: { url: string; fields: Record<string, string> };
  get: string;
  put: string;
}

const BLOCKED = { get: 'blocked: TypeError', put: 'blocked: TypeError', post: 'blocked: TypeError' };

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('Chromium: form upload and cross-origin fetch', () => {
  let h: Harness;
  let browser: Browser;
  let pages: Server;
  let origin: string;
  let presigned: Presigned;
  const landed: URL[] = [];

  before(async () => {
    h = await startHarness();
    await aws(h, ['s3', 'mb', 's3://web']);
    const file = join(h.home, 'page.txt');
    await writeFile(file, 'text for the page');
    await aws(h, ['s3api', 'put-object', '--bucket', 'web', '--key', 'page.txt', '--body', file]);
    // The web application: its pages on another port than the gateway (another origin).
    pages = createServer((req, res) => {
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname === '/form') {
        const hidden = Object.entries(presigned.post.fields)
          .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
          .join('\n');
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!doctype html><title>upload</title>
<form action="${escapeHtml(presigned.post.url)}" method="post" enctype="multipart/form-data">
${hidden}
<input type="hidden" name="Content-Type" value="text/plain">
<input type="file" name="file">
<button type="submit">Upload</button>
</form>`);
        return;
      }
      if (url.pathname === '/done') landed.push(url);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>${url.pathname.slice(1)}</title><p>${url.pathname}</p>`);
    });
    await new Promise<void>((ok) => pages.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    assert.notEqual(origin, new URL(h.url).origin);
    const r = await run(
      '/usr/bin/python3',
      [PRESIGN, h.url, ACCESS_KEY, SECRET_KEY, 'web', `${origin}/done`, 'page.txt', 'from-browser.txt'],
      h.env,
    );
    assert.equal(r.code, 0, r.stderr);
    presigned = JSON.parse(r.stdout) as Presigned;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await new Promise((ok) => pages?.close(ok));
    await h?.stop();
  });

  test('an HTML form posts a file to the presigned POST and the browser follows the redirect', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${origin}/form`);
    const content = 'a file chosen in the browser\n';
    await page.setInputFiles('input[type=file]', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(content),
    });
    await Promise.all([page.waitForURL(`${origin}/done?**`), page.click('button[type=submit]')]);
    await page.close();
    assert.equal(landed.length, 1);
    const done = landed[0]!;
    assert.equal(done.searchParams.get('bucket'), 'web');
    assert.equal(done.searchParams.get('key'), 'browser/notes.txt');
    assert.equal(done.searchParams.get('etag'), `"${md5(content)}"`);
    const head = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'web', '--key', 'browser/notes.txt'])).stdout,
    ) as { ContentType: string; Metadata: Record<string, string>; ETag: string; ContentLength: number };
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { from: 'chromium' });
    assert.equal(head.ETag, `"${md5(content)}"`);
    assert.equal(head.ContentLength, Buffer.byteLength(content));
  });

  /**
   * A cross-origin GET, PUT and form POST (FormData) from the page's script; a CORS block shows
   * as a TypeError. The POST is a "simple" request: the browser sends it without a preflight and
   * only withholds the answer from the page when no rule allows it.
   */
  async function crossOrigin(page: Page): Promise<{ get: string; put: string; post: string }> {
    return page.evaluate(
      async ({ get, put, post }) => {
        const out = { get: '', put: '', post: '' };
        // Never the HTTP cache: an answer cached before the rule existed would carry no CORS headers.
        const noStore = { cache: 'no-store' } as RequestInit;
        try {
          const g = await fetch(get, noStore);
          out.get = `${g.status} ${await g.text()}`;
        } catch (e) {
          out.get = `blocked: ${(e as Error).name}`;
        }
        try {
          const p = await fetch(put, { ...noStore, method: 'PUT', body: 'put by the browser' });
          out.put = `${p.status} ${p.headers.get('etag')}`;
        } catch (e) {
          out.put = `blocked: ${(e as Error).name}`;
        }
        try {
          const form = new FormData();
          for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
          form.append('file', new Blob(['posted by fetch'], { type: 'text/plain' }), 'fetched.txt');
          const p = await fetch(post.url, { ...noStore, method: 'POST', body: form });
          const text = await p.text();
          out.post = `${p.status} ${/<Key>([^<]*)<\/Key>/.exec(text)?.[1]} ${p.headers.get('etag')}`;
        } catch (e) {
          out.post = `blocked: ${(e as Error).name}`;
        }
        return out;
      },
      { get: presigned.get, put: presigned.put, post: presigned.post201 },
    );
  }

  const putCors = (origins: string[]) =>
    aws(h, [
      's3api',
      'put-bucket-cors',
      '--bucket',
      'web',
      '--cors-configuration',
      JSON.stringify({
        CORSRules: [
          {
            AllowedOrigins: origins,
            AllowedMethods: ['GET', 'PUT', 'POST'],
            AllowedHeaders: ['*'],
            ExposeHeaders: ['ETag'],
          },
        ],
      }),
    ]);

  const putObjectExists = async () =>
    (await aws(h, ['s3api', 'head-object', '--bucket', 'web', '--key', 'from-browser.txt'], true)).code === 0;

  test('cross-origin fetch GET, PUT and FormData POST: answers blocked without a rule for the origin, allowed with one', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${origin}/app`);
    // No CORS configuration: the GET's answer is withheld from the page, the PUT's preflight fails.
    assert.deepEqual(await crossOrigin(page), BLOCKED);
    assert.equal(await putObjectExists(), false, 'a refused preflight keeps the PUT from being sent');
    // A rule for another origin only: still blocked.
    await putCors(['http://app.example']);
    assert.deepEqual(await crossOrigin(page), BLOCKED);
    assert.equal(await putObjectExists(), false);
    // A rule for this page's origin: both go through, and the page may read the exposed ETag.
    await putCors([origin]);
    assert.deepEqual(await crossOrigin(page), {
      get: '200 text for the page',
      put: `200 "${md5('put by the browser')}"`,
      post: `201 fetched/fetched.txt "${md5('posted by fetch')}"`,
    });
    const back = join(h.home, 'back.txt');
    await aws(h, ['s3api', 'get-object', '--bucket', 'web', '--key', 'from-browser.txt', back]);
    assert.equal(await readFile(back, 'utf8'), 'put by the browser');
    await page.close();
  });
});
