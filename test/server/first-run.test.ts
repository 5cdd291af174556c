import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startLocal, tempDir, waitFor } from '../helpers/local-process.js';

/** The first start of `strata local` tells a person where things are; the ready line does not change. */

interface Welcome {
  event: 'welcome';
  firstStart: boolean;
  dashboard: string;
  tokenFile: string | null;
  s3?: string;
  s3AccessKeys?: string[];
}

function welcomeEvent(stderr: string): Welcome | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { event?: string };
    if (e.event === 'welcome') return e as Welcome;
  }
  return undefined;
}

describe('strata local first run', () => {
  it('first start: dashboard, token file and S3 endpoint with how to get credentials; later starts: one line', async () => {
    const { dir, cleanup } = await tempDir('first-run');
    try {
      const first = await startLocal(['--data-dir', `${dir}/data`, '--s3-port', '0']);
      let text: string;
      try {
        const admin = first.ready.addresses.admin!;
        const s3 = first.ready.addresses.s3!;
        const tokenFile = `${dir}/data/token`;
        // The ready line's fields are exactly what they were.
        assert.deepEqual(Object.keys(first.ready).sort(), [
          'addresses',
          'dataDir',
          'pid',
          'ready',
          'role',
          'tokenFile',
          'version',
        ]);
        const event = await waitFor('the welcome event', async () => welcomeEvent(first.stderr()));
        assert.equal(event.firstStart, true);
        assert.equal(event.dashboard, `${admin}/`);
        assert.equal(event.tokenFile, tokenFile);
        assert.equal(event.s3, s3);
        assert.deepEqual(event.s3AccessKeys, []);
        text = first
          .stderr()
          .split('\n')
          .filter((l) => !l.startsWith('{'))
          .join('\n');
        assert.match(text, /first start/);
        assert.ok(text.includes(`Dashboard  ${admin}/`), text);
        assert.ok(text.includes(`Token      ${tokenFile}`), text);
        assert.ok(text.includes(`S3         ${s3}`), text);
        assert.match(text, /STRATA_S3_ACCESS_KEY_ID/);
      } finally {
        assert.equal(await first.stop(), 0);
      }
      const secret = 'do-not-print-this-secret';
      const again = await startLocal(['--data-dir', `${dir}/data`, '--s3-port', '0'], {
        STRATA_S3_ACCESS_KEY_ID: 'opskey',
        STRATA_S3_SECRET_ACCESS_KEY: secret,
      });
      try {
        const event = await waitFor('the welcome event', async () => welcomeEvent(again.stderr()));
        assert.equal(event.firstStart, false);
        assert.deepEqual(event.s3AccessKeys, ['opskey']);
        const lines = again
          .stderr()
          .split('\n')
          .filter((l) => l !== '' && !l.startsWith('{'));
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0]!, /^strata local \S+ ready: dashboard http:\/\/127\.0\.0\.1:\d+\/, token /);
        assert.ok(!again.stderr().includes(secret), 'no secret on stderr');
      } finally {
        assert.equal(await again.stop(), 0);
      }
    } finally {
      await cleanup();
    }
  });
});
