import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type {
  OpenedPageStore,
  PageStoreCaseOptions,
  PageStoreContractSubject,
} from '../../src/cache/contract.js';
import { PAGE_HEADER_BYTES } from '../../src/cache/page-file.js';
import { PageSealer } from '../../src/cache/page-seal.js';
import type { PageStore, TierConfig } from '../../src/cache/page-store.js';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { describePageStoreContract } from '../helpers/page-store-contract.js';

/** TieredPageStore in each tier layout it supports, against the one page store contract. */

let root = '';
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-page-contract-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Layout {
  /** Memory tier quota for a store of `capacity` bytes; absent = no memory tier. */
  readonly memory?: (capacity: number) => number;
  readonly disk: boolean;
  /** The encrypted disk tier: pages sealed with this key. */
  readonly sealer?: PageSealer;
}

function tiered(layout: Layout): PageStoreContractSubject {
  return {
    persistent: layout.disk,
    hasMemoryTier: layout.memory !== undefined,
    // Memory only: a page that does not fit in memory is simply not cached.
    async open(options: PageStoreCaseOptions): Promise<OpenedPageStore> {
      const dir = join(root, `s${++seq}`);
      const tiers: TierConfig[] = [];
      if (layout.memory) {
        tiers.push({ name: 'memory', kind: 'memory', capacityBytes: layout.memory(options.capacityBytes) });
      }
      if (layout.disk) tiers.push({ name: 'disk0', kind: 'disk', dir, capacityBytes: options.capacityBytes });
      let current: PageStore | undefined;
      const make = async (): Promise<PageStore> => {
        const store = new TieredPageStore({
          pageSize: options.pageSize,
          tiers,
          eviction: options.eviction,
          ...(layout.sealer ? { diskSealer: layout.sealer } : {}),
        });
        await store.open();
        current = store;
        return store;
      };
      const store = await make();
      return {
        store,
        ...(layout.disk
          ? {
              reopen: make,
              async corrupt(fileId: string, index: number) {
                // Flip one payload bit in the page file (<dir>/<id[0..2]>/<id>.<index>.page).
                const fh = await open(join(dir, fileId.slice(0, 2), `${fileId}.${index}.page`), 'r+');
                try {
                  const { size } = await fh.stat();
                  const at = PAGE_HEADER_BYTES + Math.floor((size - PAGE_HEADER_BYTES) / 2);
                  const b = Buffer.alloc(1);
                  await fh.read(b, 0, 1, at);
                  b[0]! ^= 0x04;
                  await fh.write(b, 0, 1, at);
                } finally {
                  await fh.close();
                }
              },
            }
          : {}),
        async dispose() {
          await current?.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

describePageStoreContract('TieredPageStore, memory only', tiered({ memory: (c) => c, disk: false }));
describePageStoreContract('TieredPageStore, disk only', tiered({ disk: true }));
describePageStoreContract('TieredPageStore, memory + disk', tiered({ memory: (c) => c, disk: true }));
describePageStoreContract(
  'TieredPageStore, memory (half the quota) + disk',
  tiered({ memory: (c) => Math.floor(c / 2), disk: true }),
);
describePageStoreContract(
  'TieredPageStore, memory + encrypted disk',
  tiered({ memory: (c) => c, disk: true, sealer: new PageSealer(randomBytes(32)) }),
);
describePageStoreContract(
  'TieredPageStore, encrypted disk only',
  tiered({ disk: true, sealer: new PageSealer(randomBytes(32)) }),
);
