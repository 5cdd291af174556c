import {
  META_STORE_CONTRACT,
  type MetaStoreContractContext,
  type MetaStoreContractSubject,
  metaStoreCaseSkip,
} from '../../src/meta/contract.js';
import { describeDisposingContract } from './disposing-contract.js';

/** Registers the metadata store contract suite (src/meta/contract.ts) with node:test. */
export function describeMetaStoreContract(label: string, subject: MetaStoreContractSubject): void {
  describeDisposingContract(
    `metadata store contract: ${label}`,
    META_STORE_CONTRACT,
    (c) => metaStoreCaseSkip(subject, c),
    (track): MetaStoreContractContext => ({
      subject,
      open: async () => track(await subject.open()),
    }),
  );
}
