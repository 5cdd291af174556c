/**
 * `npm run bench [-- SUITE... [--FLAG VALUE...]]`: runs the benchmark suites (all by default: core, ring, cluster, cluster-path,
 * s3, fuse, eviction, disk-encryption, s3-sse, jobs, scale, scheduler-failover, speed, soak, tls) and prints one table of ratios. Each ratio compares Strata with a baseline measured
 * in the same run. Flags after the suite names go to each suite (e.g. `-- jobs --only small`).
 * Results also go to bench/results/*.json.
 */
import { printTable, type Row, saveResults } from './report.js';

const SUITES: Record<string, (flags: string[]) => Promise<Row[]>> = {
  core: async (flags) => (await import('./core.js')).runCoreBench(flags),
  ring: async (flags) => (await import('./ring.js')).runRingBench(['--keys', '1000000', ...flags]),
  cluster: async (flags) => (await import('./cluster.js')).runClusterBench(flags),
  'cluster-path': async (flags) => (await import('./cluster-path.js')).runClusterPathBench(flags),
  s3: async (flags) => (await import('./s3-gateway.js')).runS3GatewayBench(flags),
  fuse: async (flags) => (await import('./fuse.js')).runFuseBench(flags),
  eviction: async (flags) => (await import('./eviction.js')).runEvictionBench(flags),
  'disk-encryption': async (flags) => (await import('./disk-encryption.js')).runDiskEncryptionBench(flags),
  's3-sse': async (flags) => (await import('./s3-sse.js')).runS3SseBench(flags),
  's3-sse-passthrough': async (flags) =>
    (await import('./s3-sse-passthrough.js')).runS3SsePassthroughBench(flags),
  jobs: async (flags) => (await import('./jobs.js')).runJobsBench(flags),
  scale: async (flags) => (await import('./scale.js')).runScaleBench(flags),
  listing: async (flags) => (await import('./listing.js')).runListingBench(flags),
  'page-index': async (flags) => (await import('./page-index-heap.js')).runPageIndexHeapBench(flags),
  'worker-scale': async (flags) => (await import('./worker-scale.js')).runWorkerScaleBench(flags),
  'scheduler-failover': async (flags) =>
    (await import('./scheduler-failover.js')).runSchedulerFailoverBench(flags),
  speed: async (flags) => (await import('./speed.js')).runSpeedBench(flags),
  soak: async (flags) => (await import('./soak.js')).runSoakBench(flags),
  tls: async (flags) => (await import('./tls.js')).runTlsBench(flags),
};

// Suite names first, then flags handed to each suite (`npm run bench -- jobs --only small`).
const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('-'));
const wanted = firstFlag === -1 ? args : args.slice(0, firstFlag);
const flags = firstFlag === -1 ? [] : args.slice(firstFlag);
const names = wanted.length > 0 ? wanted : Object.keys(SUITES);
const all: Row[] = [];
for (const name of names) {
  const suite = SUITES[name];
  if (!suite) {
    process.stderr.write(`unknown suite "${name}" (known: ${Object.keys(SUITES).join(', ')})\n`);
    process.exit(64);
  }
  process.stderr.write(`running ${name}…\n`);
  const rows = await suite(flags);
  printTable(`${name} (${new Date().toISOString()})`, rows);
  all.push(...rows.map((r) => ({ ...r, metric: `${name}: ${r.metric}` })));
}
printTable(`Strata benchmarks — all suites`, all);
process.stdout.write(`\nresults: ${await saveResults('all', all)}\n`);
