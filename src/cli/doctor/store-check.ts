import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MountInfo, StrataFileSystem } from '../../client/types.js';
import { type ErrorCode, toStrataError } from '../../core/errors.js';
import { type Finding, finding } from './finding.js';

/**
 * Each mount's store, through the worker that serves it: a read probe (the mount root listed
 * from the store, not from the cache: sync interval 0) and, only with --write-probe on a
 * writable mount, a small object written THROUGH to the store and deleted again.
 */

const PROBE_TIMEOUT_MS = 10_000;

export async function checkStores(
  fs: StrataFileSystem,
  options: { readonly writeProbe: boolean },
): Promise<Finding[]> {
  let mounts: readonly MountInfo[];
  try {
    mounts = await fs.mounts({ signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch (err) {
    const e = toStrataError(err);
    return [
      finding('store', 'fail', `the mount table cannot be read: ${e.code}: ${e.message}`, {
        fix: 'see the registry and port findings',
      }),
    ];
  }
  if (mounts.length === 0)
    return [finding('store', 'warn', 'nothing is mounted', { fix: 'strata fs mount /PATH URI' })];
  const out: Finding[] = [];
  for (const m of mounts) {
    out.push(await readProbe(fs, m));
    if (options.writeProbe) out.push(await writeProbe(fs, m));
  }
  return out;
}

async function readProbe(fs: StrataFileSystem, m: MountInfo): Promise<Finding> {
  const started = Date.now();
  try {
    const entries = await fs.list(m.path, {
      syncIntervalMs: 0,
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return finding(
      'store',
      'ok',
      `${m.uri}: root listed from the store, ${entries.length} entries in ${Date.now() - started} ms`,
      {
        subject: m.path,
      },
    );
  } catch (err) {
    const e = toStrataError(err);
    return finding('store', 'fail', `${m.uri}: the root cannot be listed: ${e.code}: ${e.message}`, {
      subject: m.path,
      fix: storeFix(m, e.code),
    });
  }
}

async function writeProbe(fs: StrataFileSystem, m: MountInfo): Promise<Finding> {
  const subject = m.path;
  if (m.readOnly) return finding('store', 'ok', `${m.uri}: read-only mount, no write probe`, { subject });
  const probePath = `${m.path === '/' ? '' : m.path}/.strata-doctor-${randomBytes(6).toString('hex')}`;
  const body = Buffer.from('strata doctor write probe\n');
  try {
    await fs.write(probePath, Readable.from([body]), {
      writeType: 'THROUGH',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  } catch (err) {
    const e = toStrataError(err);
    if (e.code === 'READ_ONLY' || e.code === 'UNSUPPORTED')
      return finding('store', 'ok', `${m.uri}: the store takes no writes (${e.code}), no write probe`, {
        subject,
      });
    return finding(
      'store',
      'fail',
      `${m.uri}: a ${body.length}-byte probe object cannot be written: ${e.code}: ${e.message}`,
      {
        subject,
        fix: storeFix(m, e.code),
      },
    );
  }
  try {
    await fs.delete(probePath, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch (err) {
    const e = toStrataError(err);
    return finding(
      'store',
      'warn',
      `${m.uri}: the probe object was written but not deleted: ${e.code}: ${e.message}`,
      {
        subject,
        fix: `delete ${probePath} ("strata fs rm ${probePath}")`,
      },
    );
  }
  return finding(
    'store',
    'ok',
    `${m.uri}: write probe: a ${body.length}-byte object written to the store and deleted`,
    {
      subject,
    },
  );
}

function storeFix(m: MountInfo, code: ErrorCode): string {
  const file = m.uri.startsWith('file:');
  switch (code) {
    case 'NOT_FOUND':
      return file
        ? `the store's folder is gone: recreate it (${m.uri}) or "strata fs unmount ${m.path}"`
        : `the bucket or prefix is gone: recreate it or "strata fs unmount ${m.path}"`;
    case 'PERMISSION_DENIED':
    case 'UNAUTHENTICATED':
      return file
        ? "the worker's user may not use that folder: fix its owner or mode"
        : `the store refuses the mount's credentials: remount with valid ones ("strata fs mount ${m.path} URI --option ...")`;
    case 'UFS_UNAVAILABLE':
    case 'UNAVAILABLE':
    case 'TIMEOUT':
      return 'the store does not answer the worker: check its address, the network between them, and that it runs';
    default:
      return `see the worker's log; "strata ufs test URI" runs the store contract against it`;
  }
}
