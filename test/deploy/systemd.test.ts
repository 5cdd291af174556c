import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, runCli, STRATA_BIN } from '../helpers/local-process.js';

/**
 * deploy/systemd: each unit parses, has the settings the deployment docs promise (simple service,
 * restart on failure, an EnvironmentFile, hardening, the data dir writable and nothing else),
 * starts a real `strata` subcommand with flags the CLI accepts (run with --help: the CLI parses
 * flags strictly, so a wrong one fails), and passes `systemd-analyze verify` with no warning.
 */

const DIR = join(REPO_ROOT, 'deploy', 'systemd');

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = new Map();
      unit.set(head[1]!, section);
      continue;
    }
    const i = line.indexOf('=');
    assert.ok(section && i > 0, `not a key=value line in a section: ${line}`);
    const key = line.slice(0, i);
    section.set(key, [...(section.get(key) ?? []), line.slice(i + 1)]);
  }
  return unit;
}

function one(unit: Unit, section: string, key: string): string | undefined {
  const v = unit.get(section)?.get(key);
  return v === undefined ? undefined : v[v.length - 1];
}

/** The words of ExecStart with ${VAR} replaced by the unit's Environment= defaults. */
function execWords(unit: Unit): string[] {
  const env = new Map<string, string>();
  for (const e of unit.get('Service')?.get('Environment') ?? [])
    for (const pair of e.split(/\s+/))
      env.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  const exec = one(unit, 'Service', 'ExecStart');
  assert.ok(exec, 'ExecStart');
  return exec.split(/\s+/).map((w) =>
    w.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
      const v = env.get(name);
      assert.ok(v !== undefined, `ExecStart uses \${${name}}, which has no Environment= default`);
      return v;
    }),
  );
}

/** Runs the unit's command line with --help; its first line names the subcommand. */
async function acceptedByCli(
  words: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assert.equal(words[0], 'strata');
  return runCli([...words.slice(1), '--help']);
}

async function units(): Promise<string[]> {
  return (await readdir(DIR)).filter((f) => f.endsWith('.service')).sort();
}

describe('deploy/systemd units', () => {
  it('worker, scheduler, gateway and local units exist', async () => {
    assert.deepEqual(await units(), [
      'strata-gateway.service',
      'strata-local.service',
      'strata-scheduler.service',
      'strata-worker.service',
    ]);
  });

  it('each: Type=simple, Restart=on-failure, an EnvironmentFile, hardening, ReadWritePaths = its data dir', async () => {
    for (const name of await units()) {
      const unit = parseUnit(await readFile(join(DIR, name), 'utf8'));
      const s = (key: string) => one(unit, 'Service', key);
      assert.equal(s('Type'), 'simple', name);
      assert.equal(s('Restart'), 'on-failure', name);
      assert.match(s('EnvironmentFile') ?? '', /^-?\/etc\/strata\/[a-z]+\.env$/, name);
      const envName = (s('EnvironmentFile') ?? '').replace(/^-/, '').split('/').pop()!;
      assert.ok(existsSync(join(DIR, envName)), `${name}: an example ${envName} beside it`);
      for (const line of (await readFile(join(DIR, envName), 'utf8')).split('\n'))
        if (line !== '' && !line.startsWith('#'))
          assert.match(line, /^STRATA_[A-Z0-9_]+=/, `${envName}: ${line}`);
      assert.equal(s('NoNewPrivileges'), 'yes', name);
      assert.equal(s('ProtectSystem'), 'strict', name);
      assert.equal(s('ProtectHome'), 'yes', name);
      assert.equal(s('PrivateTmp'), 'yes', name);
      assert.equal(s('CapabilityBoundingSet'), '', name);
      assert.match(s('LimitNOFILE') ?? '', /^\d+$/, name);
      assert.equal(s('MemoryDenyWriteExecute'), undefined, `${name}: V8 needs W+X memory`);
      assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target', name);
      const words = execWords(unit);
      const i = words.indexOf('--data-dir');
      const state = s('StateDirectory');
      if (name === 'strata-gateway.service') {
        assert.equal(i, -1, 'the gateway keeps nothing on disk');
        assert.equal(s('ReadWritePaths'), undefined);
      } else {
        assert.ok(state, `${name}: StateDirectory`);
        assert.equal(words[i + 1], `/var/lib/${state}`, `${name}: --data-dir is the state directory`);
        assert.equal(s('ReadWritePaths'), `/var/lib/${state}`, `${name}: only the data dir is writable`);
      }
    }
  });

  it('every ExecStart names a strata subcommand with flags the CLI accepts', async () => {
    const subcommand: Record<string, string> = {
      'strata-worker.service': 'worker',
      'strata-scheduler.service': 'scheduler',
      'strata-gateway.service': 'gateway s3',
      'strata-local.service': 'local',
    };
    for (const name of await units()) {
      const words = execWords(parseUnit(await readFile(join(DIR, name), 'utf8')));
      assert.equal(words.slice(1, 1 + subcommand[name]!.split(' ').length).join(' '), subcommand[name], name);
      const r = await acceptedByCli(words);
      assert.equal(r.code, 0, `${name}: ${words.join(' ')}: ${r.stderr}`);
      assert.ok(
        r.stdout.startsWith(`Usage: strata ${subcommand[name]}`),
        `${name}: ${r.stdout.slice(0, 80)}`,
      );
    }
    // The check can fail: a flag the worker does not have is refused.
    const bad = await acceptedByCli(['strata', 'worker', '--data-dir', '/x', '--no-such-flag']);
    assert.notEqual(bad.code, 0);
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  it('systemd-analyze verify: no error, no warning', {
    skip: analyze === undefined ? 'systemd-analyze is not installed (Debian package systemd)' : false,
  }, async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'strata-systemd-'));
    try {
      // verify resolves ExecStart's binary: point it at this checkout's bin/strata.js.
      for (const name of await units()) {
        const text = await readFile(join(DIR, name), 'utf8');
        await writeFile(join(tmp, name), text.replace(/^ExecStart=strata /m, `ExecStart=${STRATA_BIN} `));
      }
      const files = (await units()).map((n) => join(tmp, n));
      const r = await new Promise<{ code: number; stderr: string }>((ok) =>
        execFile(analyze!, ['verify', ...files], { timeout: 60_000 }, (err, _out, stderr) =>
          ok({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stderr }),
        ),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'systemd-analyze warned');
      // The check can fail: an unknown key is a warning it prints.
      await writeFile(join(tmp, 'bad.service'), '[Service]\nExecStart=/bin/true\nNoSuchKey=1\n');
      const bad = await new Promise<string>((ok) =>
        execFile(analyze!, ['verify', join(tmp, 'bad.service')], (_e, _o, stderr) => ok(stderr)),
      );
      assert.match(bad, /Unknown key/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
