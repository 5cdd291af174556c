import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startLocal, tempDir } from '../helpers/local-process.js';

/** --log-level on every daemon: refused when bad (before anything starts), obeyed when good. */

const DAEMONS: Array<{ name: string; args: (dir: string) => string[] }> = [
  { name: 'local', args: (dir) => ['local', '--port', '0', '--data-dir', join(dir, 'local')] },
  { name: 'worker', args: () => ['worker', '--registry', 'etcd://127.0.0.1:1', '--port', '0'] },
  { name: 'scheduler', args: () => ['scheduler', '--registry', 'etcd://127.0.0.1:1', '--port', '0'] },
  { name: 'gateway s3', args: () => ['gateway', 's3', '--registry', 'http://127.0.0.1:1', '--port', '0'] },
  {
    name: 'fuse mount',
    args: (dir) => ['fuse', 'mount', join(dir, 'mnt'), '--registry', 'http://127.0.0.1:1'],
  },
];

describe('--log-level on the daemons', () => {
  test('a bad level is refused by every daemon with exit 64, naming where it came from', async () => {
    const tmp = await tempDir('log-level');
    try {
      await mkdir(join(tmp.dir, 'mnt'));
      for (const d of DAEMONS) {
        const flag = await runCli([...d.args(tmp.dir), '--log-level', 'loud']);
        assert.equal(flag.code, 64, `${d.name}: ${flag.stderr}`);
        assert.match(flag.stderr, /INVALID_ARGUMENT.*--log-level.*debug, info, warn, error/, d.name);
        const env = await runCli(d.args(tmp.dir), { env: { STRATA_LOG_LEVEL: 'chatty' } });
        assert.equal(env.code, 64, `${d.name}: ${env.stderr}`);
        assert.match(env.stderr, /STRATA_LOG_LEVEL.*"chatty"/, d.name);
      }
    } finally {
      await tmp.cleanup();
    }
  });

  test('strata local --log-level warn writes no info lines; the default writes them', async () => {
    const tmp = await tempDir('log-level');
    try {
      for (const [args, infoExpected] of [
        [['--log-level', 'warn'], false],
        [[], true],
      ] as const) {
        const local = await startLocal(['--data-dir', join(tmp.dir, `d${args.length}`), ...args], {
          STRATA_LOG: '',
          STRATA_LOG_LEVEL: '',
        });
        // An answered request means the event loop ran past the ready line, so the SIGTERM
        // handler is installed (runUntilSignal prints the line first, then installs it).
        assert.equal((await fetch(`${local.registry}/healthz`)).status, 200);
        assert.equal(await local.stop(), 0);
        const levels = local
          .stderr()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => (JSON.parse(l) as { level?: string }).level);
        assert.equal(levels.includes('info'), infoExpected, `${args.join(' ')}: ${local.stderr()}`);
        assert.ok(
          levels.every((l) => l !== 'debug'),
          'no debug lines below debug',
        );
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
