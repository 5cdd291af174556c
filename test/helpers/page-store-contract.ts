import { describe, test } from 'node:test';
import {
  CONTRACT_PAGE_SIZE,
  type OpenedPageStore,
  PAGE_STORE_CONTRACT,
  type PageStoreContractContext,
  type PageStoreContractSubject,
  pageStoreCaseSkip,
} from '../../src/cache/contract.js';

/**
 * Registers the page store contract suite (src/cache/contract.ts) with node:test: one test per
 * case, skipped with the reason when the subject lacks what the case needs. Every store a case
 * opens is disposed when the case ends, pass or fail.
 */
export function describePageStoreContract(label: string, subject: PageStoreContractSubject): void {
  describe(`page store contract: ${label}`, () => {
    for (const c of PAGE_STORE_CONTRACT) {
      test(c.name, async (t) => {
        const skip = pageStoreCaseSkip(subject, c);
        if (skip) {
          t.skip(skip);
          return;
        }
        const opened: OpenedPageStore[] = [];
        const ctx: PageStoreContractContext = {
          subject,
          async open(options = {}) {
            const store = await subject.open({
              pageSize: CONTRACT_PAGE_SIZE,
              capacityBytes: 64 * CONTRACT_PAGE_SIZE,
              eviction: 'LRU',
              ...options,
            });
            opened.push(store);
            return store;
          },
        };
        try {
          await c.run(ctx);
        } finally {
          for (const o of opened) await o.dispose();
        }
      });
    }
  });
}
