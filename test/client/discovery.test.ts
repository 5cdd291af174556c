import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { discoverTokenFile, publishToken, resolveToken } from '../../src/client/discovery.js';

/** When a published token is used, and when it is not (src/client/discovery.ts). */

let root: string;
let env: NodeJS.ProcessEnv;
let tokenFile: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-discovery-'));
  env = { STRATA_DISCOVERY_DIR: join(root, 'run') };
  tokenFile = join(root, 'token');
  await writeFile(tokenFile, 'tok-discovered\n', { mode: 0o600 });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A pid that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((ok) => child.once('exit', ok));
  return child.pid!;
}

test('a published token is found for loopback names of its port only, with private files', async () => {
  const { file, withdraw } = await publishToken('http://127.0.0.1:41001', tokenFile, env);
  assert.equal((await stat(join(root, 'run'))).mode & 0o777, 0o700);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  for (const address of ['http://127.0.0.1:41001', 'http://localhost:41001/', 'http://[::1]:41001'])
    assert.equal(await discoverTokenFile(address, env), tokenFile, address);
  assert.equal(await discoverTokenFile('http://127.0.0.1:41002', env), undefined, 'another port');
  assert.equal(await discoverTokenFile('http://192.0.2.10:41001', env), undefined, 'another machine');
  assert.equal(await discoverTokenFile('http://example.org:41001', env), undefined, 'a name elsewhere');
  assert.deepEqual(await resolveToken('http://127.0.0.1:41001', {}, env), {
    token: 'tok-discovered',
    source: 'discovered',
    file: tokenFile,
  });
  // Precedence: anything given wins over discovery.
  assert.equal((await resolveToken('http://127.0.0.1:41001', { token: 'given' }, env)).token, 'given');
  assert.equal(
    (await resolveToken('http://127.0.0.1:41001', {}, { ...env, STRATA_TOKEN: 'from-env' })).source,
    'STRATA_TOKEN',
  );
  assert.equal((await resolveToken('http://127.0.0.1:41001', { discover: false }, env)).token, undefined);

  await chmod(tokenFile, 0o644);
  assert.equal(
    await discoverTokenFile('http://127.0.0.1:41001', env),
    undefined,
    'a token file others can read',
  );
  await chmod(tokenFile, 0o600);

  await withdraw();
  assert.equal(await discoverTokenFile('http://127.0.0.1:41001', env), undefined, 'after withdraw');
});

test('a record left by a dead process is ignored, and removed by the next publisher', async () => {
  const dir = join(root, 'run');
  const stale = join(dir, 'registry-41003.json');
  const record = {
    version: 1,
    registry: 'http://127.0.0.1:41003',
    port: 41003,
    pid: await deadPid(),
    tokenFile,
  };
  await writeFile(stale, JSON.stringify(record), { mode: 0o600 });
  assert.equal(await discoverTokenFile('http://127.0.0.1:41003', env), undefined);
  const { withdraw } = await publishToken('http://127.0.0.1:41004', tokenFile, env);
  assert.ok(!(await readdir(dir)).includes('registry-41003.json'), 'the stale record is still there');
  await withdraw();
});
