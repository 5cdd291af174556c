import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import { describeMetaStoreContract } from '../helpers/meta-store-contract.js';

/** LevelMetaStore against the one metadata store contract. */

let root = '';
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-meta-contract-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describeMetaStoreContract('LevelMetaStore', {
  persistent: true,
  async open() {
    const dir = join(root, `db-${++seq}`);
    let current: LevelMetaStore | undefined;
    const make = async () => {
      const store = new LevelMetaStore(dir);
      await store.open();
      current = store;
      return store;
    };
    const store = await make();
    return {
      store,
      reopen: make,
      async dispose() {
        await current?.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
