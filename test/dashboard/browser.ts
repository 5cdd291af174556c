import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/local-process.js';

/**
 * Debian's chromium driven by playwright-core, one per test file. These machines refuse outside
 * connections: the flags keep Chromium from trying (and logging failures). A fresh profile each time.
 */

export const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
/** Where each page's screenshot goes (git-ignored). */
export const SCREENSHOTS = join(REPO_ROOT, 'test-output', 'dashboard');

export const PAGES = ['overview', 'workers', 'mounts', 'browse', 'jobs', 'charts'] as const;

export interface Browser {
  readonly context: BrowserContext;
  /**
   * A new tab whose console errors, uncaught exceptions and requests to any origin but `origin`'s
   * (the dashboard must load nothing from elsewhere) are collected in `errors`.
   */
  page(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'strata-chromium-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async page() {
      const page = await context.newPage();
      const errors: string[] = [];
      let origin: string | undefined;
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.protocol === 'data:') return;
        origin ??= url.origin;
        if (url.origin !== origin) errors.push(`request to another origin: ${r.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      return { page, errors };
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page of the dashboard and waits until its data has rendered (its table or cards). */
export async function openPage(
  page: Page,
  admin: string,
  name: (typeof PAGES)[number],
  query = '',
): Promise<void> {
  await page.goto(`${admin}/#/${name}${query}`);
  await page.locator(`[data-testid="page-${name}"]`).waitFor();
  const ready: Record<(typeof PAGES)[number], string> = {
    overview: '[data-testid="hit-ratio"]',
    workers: '[data-testid="worker-row"]',
    mounts: '[data-testid="mount-row"]',
    browse: '[data-testid="entries"]',
    jobs: '[data-testid="jobs"], [data-testid="jobs-empty"], [data-testid="jobs-unavailable"]',
    charts: '[data-testid="chart-evictions"] canvas',
  };
  await page.locator(ready[name]).first().waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
