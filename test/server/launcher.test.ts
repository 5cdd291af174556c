import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { launchedByNpm } from '../../src/core/launcher.js';
import { spawnDaemon } from '../helpers/daemon.js';
import { REPO_ROOT, type ReadyLine, startLocal } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A daemon started through npm must stop when npm gets SIGTERM (before the fix, `npm start` and
 * `npx strata local` left node running, re-parented to init, holding the data dir's LevelDB
 * lock, so the next start failed). Each case kills only the launcher's PID, waits for the real
 * node process to go, and starts again on the same data dir.
 */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function launcherCase(launcher: string[], npmCache: string, dataDir: string): Promise<void> {
  const [file, ...args] = launcher;
  const d = await spawnDaemon<ReadyLine>(
    file!,
    [...args, '--data-dir', dataDir, '--port', '0', '--s3-port', 'off'],
    {
      what: launcher.join(' '),
      timeoutMs: 60_000,
      cwd: REPO_ROOT,
      env: {
        npm_config_cache: npmCache,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      },
    },
  );
  const nodePid = d.ready.pid;
  try {
    assert.notEqual(nodePid, d.child.pid, 'the ready line comes from node, not from npm');
    assert.ok(alive(nodePid));
    d.child.kill('SIGTERM');
    await d.exited;
    await waitFor(() => !alive(nodePid), {
      what: `node ${nodePid} to exit after its launcher`,
      timeoutMs: 20_000,
    });
  } finally {
    if (alive(nodePid)) process.kill(nodePid, 'SIGKILL');
    await d.kill();
  }
  // The data dir's lock is free: a second start on it becomes ready.
  const again = await startLocal(['--data-dir', dataDir, '--s3-port', 'off']);
  assert.equal(await again.stop(), 0, `signal ${again.child.signalCode}; stderr:\n${again.stderr()}`);
}

describe('launcher SIGTERM', () => {
  it('npm start: node stops with npm and the data dir can be opened again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-launcher-'));
    try {
      await launcherCase(['npm', 'start', '--'], join(dir, 'npm'), join(dir, 'data'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('npx strata local: node stops with npx (it follows its launcher)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-launcher-'));
    try {
      // Started in the repo, npx runs the project's own bin (linked into its cache, offline).
      await launcherCase(['npx', '--offline', 'strata', 'local'], join(dir, 'npm'), join(dir, 'data'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('strata local stopped the moment it is ready exits cleanly, 10 times of 10', async () => {
    // The handlers used to be installed after the ready line: ~1 stop in 3 killed the process.
    const dir = await mkdtemp(join(tmpdir(), 'strata-quick-stop-'));
    try {
      for (let i = 0; i < 10; i++) {
        const local = await startLocal(['--data-dir', join(dir, 'data'), '--s3-port', 'off']);
        const code = await local.stop();
        assert.equal(code, 0, `stop ${i + 1}: signal ${local.child.signalCode}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('only what npm launched follows its parent (nohup and systemd daemons do not)', () => {
    assert.equal(launchedByNpm({}), false);
    assert.equal(launchedByNpm({ npm_lifecycle_event: 'start' }), true);
    assert.equal(launchedByNpm({ npm_command: 'exec' }), true);
    assert.equal(launchedByNpm({ npm_lifecycle_event: 'npx', STRATA_FOLLOW_LAUNCHER: '0' }), false);
    assert.equal(launchedByNpm({ STRATA_FOLLOW_LAUNCHER: '1' }), true);
  });
});
