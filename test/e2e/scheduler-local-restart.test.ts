import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { JobsClient } from '../../src/client/jobs-client.js';
import { EmbeddedRegistry } from '../../src/registry/embedded-registry.js';
import { jobJson, type SchedulerJob } from '../../src/scheduler/job-record.js';
import { metric, type RunningStrata, startLocal, tempDir, waitFor } from '../helpers/local-process.js';

/**
 * `strata local` killed -9 in the middle of a load and started again on the same data dir: its
 * embedded scheduler resumes the job from the cursor in the registry. The page cache is memory
 * only (--disk-capacity 0), so what the first process cached is gone: a second process that
 * started over would read the whole tree from the store again, one that resumes reads only what
 * is left plus the batches that were in flight.
 */

const FILE_SIZE = 1024;
const DIRS = 6;
const PER_DIR = 1000;
const FILES = DIRS * PER_DIR;
/** The engine's defaults: 2 batches in flight × 128 files. */
const IN_FLIGHT_FILES = 2 * 128;

describe('strata local restarted mid-job', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let local: RunningStrata | undefined;
  let args: string[];

  before(async () => {
    tmp = await tempDir('sched-local');
    const body = Buffer.alloc(FILE_SIZE, 5);
    for (let d = 0; d < DIRS; d++) {
      const dir = join(tmp.dir, 'ufs', `d${d}`);
      await mkdir(dir, { recursive: true });
      await Promise.all(Array.from({ length: PER_DIR }, (_, f) => writeFile(join(dir, `f${f}.bin`), body)));
    }
    args = [
      '--data-dir',
      join(tmp.dir, 'data'),
      '--mount',
      `/data=${pathToFileURL(join(tmp.dir, 'ufs')).href}`,
      '--disk-capacity',
      '0',
      '--s3-port',
      'off',
    ];
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  test('SIGKILL at ~50 %, start again: the job resumes from its cursor and ends SUCCEEDED; the files handled before are not read again', async (t) => {
    local = await startLocal(args);
    const first = new JobsClient(local.registry);
    // 1 MiB/s: about 6 s for the tree, so the kill lands mid-job on any machine.
    const { id } = await first.submit('load', '/data', { bandwidth: 1024 * 1024 });
    await waitFor(
      'the job at 50 %',
      async () => {
        const job = await first.get(id);
        assert.equal(job.state, 'RUNNING');
        return job.filesDone >= FILES / 2;
      },
      60_000,
    );
    await local.kill();
    local = undefined;
    // Where the first process got to, as it left it in the registry.
    const embedded = new EmbeddedRegistry(join(tmp.dir, 'data', 'registry'));
    await embedded.open();
    const atKill = (await embedded.getJob(id)) as SchedulerJob | undefined;
    await embedded.close();
    assert.equal(atKill?.state, 'RUNNING');
    const doneAtKill = jobJson(atKill).filesDone;
    assert.ok(doneAtKill >= FILES / 4 && doneAtKill < FILES, `files done at the kill: ${doneAtKill}`);

    local = await startLocal(args);
    const second = new JobsClient(local.registry);
    const end = await second.wait(id, { intervalMs: 100 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    assert.equal(end.filesDone, FILES);
    assert.equal(end.filesTotal, FILES);
    assert.equal(end.bytesDone, FILES * FILE_SIZE);
    const read = await metric(local.ready.addresses.admin!, 'strata_ufs_read_bytes_total', {
      mount: '/data',
    });
    const bound = (FILES - doneAtKill + IN_FLIGHT_FILES) * FILE_SIZE;
    t.diagnostic(
      `files done at the kill ${doneAtKill}/${FILES}; the second process read ${read} B from the store (bound ${bound} B)`,
    );
    assert.ok(read <= bound, `the second process read ${read} bytes > what was left + in flight (${bound})`);
    assert.ok(read >= (FILES - doneAtKill) * FILE_SIZE, `it read what was left: ${read}`);
  });
});
