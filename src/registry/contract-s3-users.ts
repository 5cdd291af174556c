import assert from 'node:assert/strict';
import type { RegistryContractCase } from './contract.js';
import { Snapshots } from './contract-snapshots.js';
import { addS3Key, MAX_KEYS_PER_USER, removeS3Key, type S3UserRecord } from './s3-users.js';

/** The registry contract's cases for S3 users (part of REGISTRY_CONTRACT). */

function user(name: string, ...keyIds: string[]): S3UserRecord {
  return {
    name,
    createdAtMs: 1_700_000_000_000,
    keys: keyIds.map((id) => ({ accessKeyId: id, secretAccessKey: `secret-of-${id}`, createdAtMs: 1 })),
  };
}

const names = (users: S3UserRecord[]): string => users.map((u) => u.name).join();

export const S3_USERS_CONTRACT: readonly RegistryContractCase[] = [
  {
    name: 's3 users: create once, list sorted, replace, delete, persist (secrets stored as given)',
    async run({ registry, reopen }) {
      assert.deepEqual(await registry.listS3Users(), []);
      assert.equal(await registry.createS3User(user('bob', 'K-B1')), true);
      assert.equal(await registry.createS3User(user('alice', 'K-A1')), true);
      assert.equal(await registry.createS3User(user('alice', 'K-OTHER')), false, 'a second create of alice');
      assert.deepEqual(await registry.listS3Users(), [user('alice', 'K-A1'), user('bob', 'K-B1')]);
      await registry.saveS3User(user('alice', 'K-A1', 'K-A2'));
      assert.deepEqual((await registry.listS3Users())[0], user('alice', 'K-A1', 'K-A2'));
      assert.equal(await registry.deleteS3User('bob'), true);
      assert.equal(await registry.deleteS3User('bob'), false, 'deleting a user that is gone');
      // Two creates racing for one name: exactly one wins.
      const raced = await Promise.all([
        registry.createS3User(user('carol', 'K-C1')),
        registry.createS3User(user('carol', 'K-C2')),
      ]);
      assert.deepEqual(raced.filter(Boolean).length, 1, `both creates answered ${raced}`);
      const again = await reopen();
      try {
        assert.equal(names(await again.listS3Users()), 'alice,carol');
        assert.deepEqual((await again.listS3Users())[0], user('alice', 'K-A1', 'K-A2'));
      } finally {
        if (again !== registry) await again.close();
      }
    },
  },
  {
    name: 's3 users: watch sees create, key change and delete as full snapshots',
    async run({ registry }) {
      await registry.createS3User(user('dave', 'K-D1'));
      const snaps = new Snapshots<S3UserRecord>();
      const unwatch = await registry.watchS3Users(snaps.push);
      await snaps.next('the first snapshot is dave', (us) => names(us) === 'dave');
      await registry.createS3User(user('erin', 'K-E1'));
      await snaps.next('erin was created', (us) => names(us) === 'dave,erin');
      await registry.saveS3User(user('dave'));
      await snaps.next("dave's keys are gone", (us) => us[0]?.keys.length === 0 && us.length === 2);
      await registry.deleteS3User('erin');
      await snaps.next('erin was deleted', (us) => names(us) === 'dave');
      unwatch();
    },
  },
  {
    name: 's3 users: concurrent updates (key add / rm) are compare-and-set, none lost; a refused change writes nothing',
    async run({ registry }) {
      await registry.createS3User(user('frank', 'K-F0'));
      // Ten key additions at the same moment, each a read-modify-write of the same record.
      const added = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          registry.updateS3User('frank', (u) => ({
            ...u,
            keys: [...u.keys, { accessKeyId: `K-F${i + 1}`, secretAccessKey: `s${i}`, createdAtMs: 1 }],
          })),
        ),
      );
      assert.ok(added.every((u) => u !== undefined));
      const ids = (await registry.listS3Users())
        .find((u) => u.name === 'frank')!
        .keys.map((k) => k.accessKeyId);
      assert.deepEqual(
        [...ids].sort(),
        ['K-F0', ...Array.from({ length: 10 }, (_, i) => `K-F${i + 1}`)].sort(),
      );
      assert.equal(await registry.updateS3User('nobody', (u) => u), undefined);
      await assert.rejects(
        registry.updateS3User('frank', () => {
          throw new Error('refused');
        }),
        /refused/,
      );
      assert.equal((await registry.listS3Users()).find((u) => u.name === 'frank')!.keys.length, 11);
      // Through what `strata s3 user key add|rm` run: ten parallel adds give ten keys…
      await registry.createS3User(user('grace', 'K-G0'));
      const keys = await Promise.all(Array.from({ length: 10 }, () => addS3Key(registry, 'grace')));
      const listed = (await registry.listS3Users()).find((u) => u.name === 'grace')!.keys;
      assert.equal(listed.length, 11);
      for (const k of keys)
        assert.ok(
          listed.some((l) => l.accessKeyId === k.accessKeyId),
          k.accessKeyId,
        );
      // …the limit holds exactly under a race…
      const more = await Promise.allSettled(Array.from({ length: 10 }, () => addS3Key(registry, 'grace')));
      assert.equal(more.filter((r) => r.status === 'fulfilled').length, MAX_KEYS_PER_USER - 11);
      for (const r of more)
        if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'INVALID_ARGUMENT');
      assert.equal(
        (await registry.listS3Users()).find((u) => u.name === 'grace')!.keys.length,
        MAX_KEYS_PER_USER,
      );
      // …and parallel removals all take.
      await Promise.all(keys.map((k) => removeS3Key(registry, 'grace', k.accessKeyId)));
      const left = (await registry.listS3Users()).find((u) => u.name === 'grace')!.keys;
      assert.equal(left.length, MAX_KEYS_PER_USER - 10);
      assert.ok(!left.some((l) => keys.some((k) => k.accessKeyId === l.accessKeyId)));
      await assert.rejects(removeS3Key(registry, 'grace', keys[0]!.accessKeyId), { code: 'NOT_FOUND' });
      await assert.rejects(addS3Key(registry, 'nobody'), { code: 'NOT_FOUND' });
    },
  },
];
