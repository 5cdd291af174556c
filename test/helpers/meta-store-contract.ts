import { describe, test } from 'node:test';
import {
  META_STORE_CONTRACT,
  type MetaStoreContractContext,
  type MetaStoreContractSubject,
  metaStoreCaseSkip,
  type OpenedMetaStore,
} from '../../src/meta/contract.js';

/**
 * Registers the metadata store contract suite (src/meta/contract.ts) with node:test: one test per
 * case, skipped with the reason when the subject lacks what the case needs. Every store a case
 * opens is disposed when the case ends, pass or fail.
 */
export function describeMetaStoreContract(label: string, subject: MetaStoreContractSubject): void {
  describe(`metadata store contract: ${label}`, () => {
    for (const c of META_STORE_CONTRACT) {
      test(c.name, async (t) => {
        const skip = metaStoreCaseSkip(subject, c);
        if (skip) {
          t.skip(skip);
          return;
        }
        const opened: OpenedMetaStore[] = [];
        const ctx: MetaStoreContractContext = {
          subject,
          async open() {
            const store = await subject.open();
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
