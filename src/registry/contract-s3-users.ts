import assert from 'node:assert/strict';
import type { RegistryContractCase } from './contract.js';
import { Snapshots } from './contract-snapshots.js';
import type { S3UserRecord } from './s3-users.js';

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
];
