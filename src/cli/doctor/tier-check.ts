import { STORAGE_ROUTE, type StorageDirReport, type StorageReport } from '../../core/storage-report.js';
import { formatBytes } from '../../core/units.js';
import { type DaemonTarget, type Finding, finding } from './finding.js';
import { probe, transportText } from './http-probe.js';

/**
 * Each worker's directories (data, metadata, staging, disk tiers) as the worker sees them, from
 * its GET /api/v1/storage: they exist, it may write them, and there is room. A disk tier whose
 * file system holds less than its quota still works — it shrinks to fit — so that is a warning;
 * less than a few pages free is a failure.
 */

/** Below this, the metadata store and staging files have no room to work. */
const LOW_SPACE_BYTES = 64 * 1024 * 1024;

export async function checkTiers(
  workers: readonly DaemonTarget[],
  token: string | undefined,
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const w of workers) {
    let report: StorageReport;
    try {
      const answer = await probe(`${w.address}${STORAGE_ROUTE}`, { token });
      if (answer.status === 404) {
        out.push(
          finding('tier', 'warn', `worker ${w.id} does not report its directories (an older version)`, {
            subject: w.id,
            fix: 'upgrade the worker to check its disk tiers',
          }),
        );
        continue;
      }
      if (answer.status !== 200) {
        out.push(
          finding('tier', 'fail', `worker ${w.id} answered ${STORAGE_ROUTE} with HTTP ${answer.status}`, {
            subject: w.id,
            fix:
              answer.status === 401
                ? 'the worker refuses the token: pass --token-file or STRATA_TOKEN'
                : "see the worker's log",
          }),
        );
        continue;
      }
      report = JSON.parse(answer.text) as StorageReport;
    } catch (err) {
      out.push(
        finding('tier', 'fail', `worker ${w.id} at ${w.address}: ${transportText(err)}`, {
          subject: w.id,
          fix: 'see the port finding of this worker',
        }),
      );
      continue;
    }
    for (const d of report.dirs) out.push(dirFinding(w, d, report.pageSize));
  }
  return out;
}

function dirFinding(w: DaemonTarget, d: StorageDirReport, pageSize: number): Finding {
  const subject = `${w.id} ${d.name}`;
  if (!d.exists)
    return finding('tier', 'fail', `${d.path} is missing (${d.error ?? 'not a directory'})`, {
      subject,
      fix: 'restart the worker (it creates its directories), or restore the data directory it was started with',
    });
  if (!d.writable)
    return finding('tier', 'fail', `${d.path} is not writable by the worker's user`, {
      subject,
      fix: 'give the data directory to the user the worker runs as (chown -R); under systemd, list it in ReadWritePaths=',
    });
  const free = `${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`;
  if (d.kind === 'disk-tier' && d.capacityBytes !== undefined && d.usedBytes !== undefined) {
    const wanted = d.capacityBytes - d.usedBytes;
    const use = `${formatBytes(d.usedBytes)} of a ${formatBytes(d.capacityBytes)} quota used, ${free} on its disk`;
    if (d.freeBytes < 4 * pageSize)
      return finding('tier', 'fail', `${d.path}: ${use}: no room for new pages`, {
        subject,
        fix: 'free space on that file system, or move the data directory to a larger one',
      });
    if (d.freeBytes < wanted)
      return finding(
        'tier',
        'warn',
        `${d.path}: ${use}: the disk holds less than the quota (the tier shrinks to fit)`,
        {
          subject,
          fix: 'lower --disk-capacity to what the disk holds, or free space on it',
        },
      );
    return finding('tier', 'ok', `${d.path}: ${use}`, { subject });
  }
  if (d.freeBytes < LOW_SPACE_BYTES)
    return finding('tier', 'warn', `${d.path}: only ${free}`, {
      subject,
      fix: 'free space on that file system: the metadata store and staged writes need room',
    });
  return finding('tier', 'ok', `${d.path}: writable, ${free}`, { subject });
}
