import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { FUSE_BUILD_HINT, fuseAddonBuilt, fuseAddonPath } from '../../core/fuse-addon.js';
import { type Finding, finding } from './finding.js';

/**
 * What `strata fuse mount` and `strata local --fuse` need on this machine: /dev/fuse, the
 * fusermount3 helper and the native addon. FUSE is optional, so a missing piece is a warning.
 */

export async function checkFuse(env: Readonly<Record<string, string | undefined>>): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    const st = await stat('/dev/fuse');
    if (!st.isCharacterDevice()) throw new Error('not a device');
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
    out.push(finding('fuse', 'ok', '/dev/fuse is there and usable', { subject: '/dev/fuse' }));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    out.push(
      finding(
        'fuse',
        'warn',
        missing ? '/dev/fuse is missing' : `/dev/fuse is not usable: ${(err as Error).message}`,
        {
          subject: '/dev/fuse',
          fix: missing
            ? 'load the fuse module (modprobe fuse); in a container, pass --device /dev/fuse (and --cap-add SYS_ADMIN)'
            : 'run as a user allowed to open /dev/fuse',
        },
      ),
    );
  }
  const helper = await onPath('fusermount3', env.PATH ?? '');
  out.push(
    helper === undefined
      ? finding('fuse', 'warn', 'fusermount3 is not on PATH', {
          subject: 'fusermount3',
          fix: 'apt-get install fuse3',
        })
      : finding('fuse', 'ok', `fusermount3 at ${helper}`, { subject: 'fusermount3' }),
  );
  out.push(
    fuseAddonBuilt(env)
      ? finding('fuse', 'ok', `the addon is built (${fuseAddonPath(env)})`, { subject: 'addon' })
      : finding('fuse', 'warn', `the addon is not built (${fuseAddonPath(env)} is missing)`, {
          subject: 'addon',
          fix: FUSE_BUILD_HINT,
        }),
  );
  return out;
}

async function onPath(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}
