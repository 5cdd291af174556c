import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/local-process.js';

/**
 * npm install's postinstall (scripts/install-fuse.sh) builds the FUSE addon where libfuse3-dev is
 * present and never fails the install. Run on a copy of the scripts and native/fuse, so the
 * checkout's own addon (which FUSE tests load) is never rebuilt or removed here.
 */

const ADDON = join('native', 'fuse', 'build', 'Release', 'strata_fuse.node');

function hasFuseHeaders(): boolean {
  try {
    execFileSync('pkg-config', ['--exists', 'fuse3']);
    return true;
  } catch {
    return false;
  }
}

describe('the FUSE addon at npm install', () => {
  let tree: string;

  before(async () => {
    tree = await mkdtemp(join(tmpdir(), 'strata-install-'));
    await mkdir(join(tree, 'scripts'));
    for (const f of ['install-fuse.sh', 'build-fuse.sh'])
      await cp(join(REPO_ROOT, 'scripts', f), join(tree, 'scripts', f));
    await mkdir(join(tree, 'native', 'fuse'), { recursive: true });
    await cp(join(REPO_ROOT, 'native', 'fuse', 'binding.gyp'), join(tree, 'native', 'fuse', 'binding.gyp'));
    await cp(join(REPO_ROOT, 'native', 'fuse', 'src'), join(tree, 'native', 'fuse', 'src'), {
      recursive: true,
    });
  });

  after(async () => {
    await rm(tree, { recursive: true, force: true });
  });

  function install(env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    return new Promise((ok) =>
      execFile(
        'bash',
        [join(tree, 'scripts', 'install-fuse.sh')],
        { env: { ...process.env, STRATA_FUSE_BUILD_LOG: join(tree, 'build.log'), ...env }, timeout: 120_000 },
        (err, _stdout, stderr) =>
          ok({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stderr }),
      ),
    );
  }

  it('package.json runs it as postinstall', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts.postinstall, 'bash scripts/install-fuse.sh');
  });

  it('headers absent: skipped with one line saying how to build it, exit 0', async () => {
    // pkg-config then finds no fuse3.pc, as on a machine without libfuse3-dev.
    const empty = join(tree, 'no-pkgconfig');
    await mkdir(empty, { recursive: true });
    const r = await install({ PKG_CONFIG_LIBDIR: empty, PKG_CONFIG_PATH: '' });
    assert.equal(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /FUSE addon not built: libfuse3 development files are missing .*libfuse3-dev.*build-fuse\.sh/,
    );
    assert.equal(existsSync(join(tree, ADDON)), false);
  });

  it('STRATA_SKIP_FUSE_BUILD=1: not tried, exit 0', async () => {
    const r = await install({ STRATA_SKIP_FUSE_BUILD: '1' });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /not built: STRATA_SKIP_FUSE_BUILD=1/);
  });

  const skip = hasFuseHeaders() ? false : 'libfuse3-dev is not installed here';

  it('no working compiler: the build fails, the install does not (one line, the log named)', {
    skip,
  }, async () => {
    const r = await install({ CC: join(tree, 'no-such-cc'), CXX: join(tree, 'no-such-cxx') });
    assert.equal(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /FUSE addon build failed, see .*build\.log/);
    assert.equal(existsSync(join(tree, ADDON)), false);
  });

  it('headers present: the addon is built', { skip }, async () => {
    const r = await install({});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /FUSE addon built: native\/fuse\/build\/Release\/strata_fuse\.node/);
    const head = (await readFile(join(tree, ADDON))).subarray(0, 4);
    assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46], 'an ELF shared object');
  });
});
