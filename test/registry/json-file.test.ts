import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { JsonFile } from '../../src/registry/json-file.js';

describe('JsonFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-json-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads back what was written, last write wins, owner-only, no temp file left', async () => {
    const file = new JsonFile<{ n: number }>(join(dir, 'doc.json'));
    assert.equal(await file.read(), undefined);
    const writes = [1, 2, 3].map((n) => file.write({ n }));
    await Promise.all(writes);
    assert.deepEqual(await file.read(), { n: 3 });
    assert.equal((await stat(join(dir, 'doc.json'))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['doc.json']);
  });

  test('a failed write keeps nothing behind, and the next write goes through', async () => {
    const target = join(dir, 'blocked.json');
    await mkdir(join(target, 'inside'), { recursive: true }); // rename onto a non-empty directory fails
    const file = new JsonFile<{ v: string }>(target);
    await assert.rejects(file.write({ v: 'x' }), (err) => isStrataError(err) && err.code === 'INTERNAL');
    assert.deepEqual((await readdir(dir)).sort(), ['blocked.json', 'doc.json']);
    await rm(target, { recursive: true });
    await file.write({ v: 'y' });
    assert.deepEqual(await file.read(), { v: 'y' });
  });
});
