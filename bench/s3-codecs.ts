/**
 * `node dist/bench/s3-codecs.js`: the gateway's request-document reader (saxes, src/gateway/s3/xml.ts)
 * and its CRC32C / CRC64NVME (src/gateway/s3/checksums.ts) against the implementations the AWS SDK
 * installs (@aws-sdk/xml-builder's parseXML, @aws-sdk/checksums' Crc32c / Crc64Nvme), on the
 * documents S3 clients send and on 64 MiB of data in 64 KiB chunks. Medians of 7 rounds.
 */
import { createRequire } from 'node:module';
import { newHasher } from '../src/gateway/s3/checksums.js';
import { parseXml } from '../src/gateway/s3/xml.js';
import { median } from './util.js';

const require = createRequire(import.meta.url);
const { parseXML } = require('@aws-sdk/xml-builder') as { parseXML(xml: string): unknown };
const { Crc32c, Crc64Nvme } = require('@aws-sdk/checksums/crc') as {
  Crc32c: new () => SdkHasher;
  Crc64Nvme: new () => SdkHasher;
};
interface SdkHasher {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

const key = (i: number) => `logs/2024/12/01/host-${i}/part-${String(i).padStart(6, '0')}.json.gz`;
const etag = (i: number) => ((i * 2654435761) >>> 0).toString(16).padStart(32, '0');
const DOCS: Record<string, string> = {
  'DeleteObjects, 1,000 keys': `<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>${Array.from({ length: 1000 }, (_, i) => `<Object><Key>${key(i)}</Key></Object>`).join('')}</Delete>`,
  'CompleteMultipartUpload, 10,000 parts': `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${Array.from({ length: 10000 }, (_, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>"${etag(i)}"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>`).join('')}</CompleteMultipartUpload>`,
  'PutObjectTagging, 10 tags': `<Tagging><TagSet>${Array.from({ length: 10 }, (_, i) => `<Tag><Key>k${i}</Key><Value>value &amp; ${i}</Value></Tag>`).join('')}</TagSet></Tagging>`,
};

function perCall(f: () => unknown, budgetMs = 1400): number {
  for (let i = 0; i < 10; i++) f();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    let n = 0;
    const t = performance.now();
    while (performance.now() - t < budgetMs / 7) {
      f();
      n++;
    }
    rounds.push(((performance.now() - t) * 1000) / n);
  }
  return median(rounds);
}

const out = (s: string) => process.stdout.write(`${s}\n`);
out('| document | size | saxes (gateway) | @aws-sdk/xml-builder |');
out('|---|---|---|---|');
for (const [name, doc] of Object.entries(DOCS)) {
  const ours = perCall(() => parseXml(doc));
  const sdk = perCall(() => parseXML(doc));
  out(`| ${name} | ${(doc.length / 1024).toFixed(1)} KiB | ${ours.toFixed(1)} µs | ${sdk.toFixed(1)} µs |`);
}

const data = Buffer.alloc(64 * 1024 * 1024);
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
const CHUNK = 64 * 1024;
async function throughput(make: () => { update(c: Uint8Array): void; digest(): unknown }): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const h = make();
    const t = performance.now();
    for (let o = 0; o < data.length; o += CHUNK) h.update(data.subarray(o, o + CHUNK));
    await h.digest();
    rounds.push(data.length / 2 ** 20 / ((performance.now() - t) / 1000));
  }
  return median(rounds);
}
out('\n| checksum | gateway | @aws-sdk/checksums |');
out('|---|---|---|');
for (const [alg, Sdk] of [
  ['crc32c', Crc32c],
  ['crc64nvme', Crc64Nvme],
] as const) {
  const ours = await throughput(() => newHasher(alg));
  const sdk = await throughput(() => new Sdk());
  out(`| ${alg} | ${ours.toFixed(0)} MiB/s | ${sdk.toFixed(0)} MiB/s |`);
}
