import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';

/** `strata conf get KEY`: one value of `conf show`'s, or with --server one of the running strata local's. */

describe('strata conf get', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: RunningStrata;

  before(async () => {
    tmp = await tempDir('conf-get');
    local = await startLocal(['--data-dir', `${tmp.dir}/data`, '--s3-port', 'off', '--page-size', '2MiB']);
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  it('prints one client value, the same conf show has; secrets masked', async () => {
    const env = { STRATA_S3_SECRET_ACCESS_KEY: 'hush-hush', STRATA_DATA_DIR: '/srv/strata' };
    const r = await runCli(['conf', 'get', 'registry'], { registry: local.registry, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${local.registry}\n`);
    const show = JSON.parse(
      (await runCli(['conf', 'show', '--json'], { registry: local.registry, env })).stdout,
    ) as {
      tokenSource: string;
    };
    const source = await runCli(['conf', 'get', 'tokenSource'], { registry: local.registry, env });
    assert.equal(source.stdout, `${show.tokenSource}\n`);
    const secret = await runCli(['conf', 'get', 'STRATA_S3_SECRET_ACCESS_KEY'], { env });
    assert.equal(secret.stdout, '****\n');
    const dir = await runCli(['conf', 'get', 'env.STRATA_DATA_DIR', '--json'], { env });
    assert.deepEqual(JSON.parse(dir.stdout), {
      key: 'env.STRATA_DATA_DIR',
      value: '/srv/strata',
      from: 'client',
    });
  });

  it('--server: a key of the running strata local', async () => {
    const r = await runCli(['conf', 'get', '--server', 'pageSize'], { registry: local.registry });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${2 * 1024 * 1024}\n`);
    const j = await runCli(['conf', 'get', '--server', 'eviction', '--json'], { registry: local.registry });
    assert.deepEqual(JSON.parse(j.stdout), { key: 'eviction', value: 'LRU', from: local.registry });
  });

  it('an unknown key is a clear error, exit 64, nothing on stdout', async () => {
    for (const args of [['nope'], ['--server', 'nope'], ['pageSize']]) {
      const r = await runCli(['conf', 'get', ...args], { registry: local.registry });
      assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /unknown configuration key/);
    }
    const missing = await runCli(['conf', 'get']);
    assert.equal(missing.code, 64);
  });
});
