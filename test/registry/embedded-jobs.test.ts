import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmbeddedRegistry } from '../../src/registry/embedded-registry.js';

test('embedded job records: one file per job, the old jobs.json migrated, versions never reused after a delete', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-embedded-jobs-'));
  try {
    const reg = join(dir, 'registry');
    await mkdir(reg, { recursive: true });
    // The former layout: every record in one file, with their versions.
    const legacy = {
      version: 1,
      jobs: [
        { id: 'a', kind: 'load', state: 'RUNNING' },
        { id: 'b/../x', kind: 'free', state: 'SUCCEEDED' },
      ],
      versions: { a: 7, 'b/../x': 9 },
    };
    await writeFile(join(reg, 'jobs.json'), JSON.stringify(legacy));
    const first = new EmbeddedRegistry(reg);
    await first.open();
    assert.deepEqual(await first.readJob('a'), { job: legacy.jobs[0], version: 7 });
    assert.deepEqual(await first.readJob('b/../x'), { job: legacy.jobs[1], version: 9 });
    assert.ok(!(await readdir(reg)).includes('jobs.json'), 'the old file is gone once migrated');
    const files = (await readdir(join(reg, 'jobs'))).filter((n) => n !== 'revision.json');
    assert.equal(files.length, 2, files.join(', '));
    // A write touches its own file only, with the next revision.
    const v = await first.putJobIf({ id: 'a', kind: 'load', state: 'SUCCEEDED' }, 7);
    assert.equal(v, 10);
    await first.deleteJob('a');
    await first.close();

    const second = new EmbeddedRegistry(reg);
    await second.open();
    assert.equal(await second.readJob('a'), undefined);
    assert.deepEqual(
      (await second.listJobs()).map((j) => j.id),
      ['b/../x'],
    );
    // Re-created after the delete: a version above any the deleted record had (10), not 10 again.
    const again = await second.putJobIf({ id: 'a', kind: 'load', state: 'PENDING' }, 0);
    assert.ok(again !== undefined && again > 10, `version ${again}`);
    assert.equal(await second.putJobIf({ id: 'a', kind: 'load', state: 'RUNNING' }, 10), undefined);
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
