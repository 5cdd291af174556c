/**
 * `npm run bench [-- SUITE...]`: runs the benchmark suites (all by default: core, ring, cluster, cluster-path,
 * s3, fuse, eviction, disk-encryption, s3-sse, jobs, scale, scheduler-failover, speed, soak, tls) and prints one table of ratios. Each ratio compares Strata with a baseline measured
 * in the same run. Results also go to bench/results/*.json.
 */
import { printTable, type Row, saveResults } from './report.js';

const SUITES: Record<string, () => Promise<Row[]>> = {
  core: async () => (await import('./core.js')).runCoreBench([]),
  ring: async () => (await import('./ring.js')).runRingBench(['--keys', '1000000']),
  cluster: async () => (await import('./cluster.js')).runClusterBench([]),
  'cluster-path': async () => (await import('./cluster-path.js')).runClusterPathBench([]),
  s3: async () => (await import('./s3-gateway.js')).runS3GatewayBench([]),
  fuse: async () => (await import('./fuse.js')).runFuseBench([]),
  eviction: async () => (await import('./eviction.js')).runEvictionBench([]),
  'disk-encryption': async () => (await import('./disk-encryption.js')).runDiskEncryptionBench([]),
  's3-sse': async () => (await import('./s3-sse.js')).runS3SseBench([]),
  's3-sse-passthrough': async () => (await import('./s3-sse-passthrough.js')).runS3SsePassthroughBench([]),
  jobs: async () => (await import('./jobs.js')).runJobsBench([]),
  scale: async () => (await import('./scale.js')).runScaleBench([]),
  listing: async () => (await import('./listing.js')).runListingBench([]),
  'page-index': async () => (await import('./page-index-heap.js')).runPageIndexHeapBench([]),
  'worker-scale': async () => (await import('./worker-scale.js')).runWorkerScaleBench([]),
  'scheduler-failover': async () => (await import('./scheduler-failover.js')).runSchedulerFailoverBench([]),
  speed: async () => (await import('./speed.js')).runSpeedBench([]),
  soak: async () => (await import('./soak.js')).runSoakBench([]),
  tls: async () => (await import('./tls.js')).runTlsBench([]),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(SUITES);
const all: Row[] = [];
for (const name of names) {
  const suite = SUITES[name];
  if (!suite) {
    process.stderr.write(`unknown suite "${name}" (known: ${Object.keys(SUITES).join(', ')})\n`);
    process.exit(64);
  }
  process.stderr.write(`running ${name}…\n`);
  const rows = await suite();
  printTable(`${name} (${new Date().toISOString()})`, rows);
  all.push(...rows.map((r) => ({ ...r, metric: `${name}: ${r.metric}` })));
}
printTable(`Strata benchmarks — all suites`, all);
process.stdout.write(`\nresults: ${await saveResults('all', all)}\n`);
