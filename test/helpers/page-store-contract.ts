import {
  CONTRACT_PAGE_SIZE,
  PAGE_STORE_CONTRACT,
  type PageStoreContractContext,
  type PageStoreContractSubject,
  pageStoreCaseSkip,
} from '../../src/cache/contract.js';
import { describeDisposingContract } from './disposing-contract.js';

/** Registers the page store contract suite (src/cache/contract.ts) with node:test. */
export function describePageStoreContract(label: string, subject: PageStoreContractSubject): void {
  describeDisposingContract(
    `page store contract: ${label}`,
    PAGE_STORE_CONTRACT,
    (c) => pageStoreCaseSkip(subject, c),
    (track): PageStoreContractContext => ({
      subject,
      open: async (options = {}) =>
        track(
          await subject.open({
            pageSize: CONTRACT_PAGE_SIZE,
            capacityBytes: 64 * CONTRACT_PAGE_SIZE,
            eviction: 'LRU',
            ...options,
          }),
        ),
    }),
  );
}
