/**
 * `npm run bench [-- SUITE... [--FLAG VALUE...]]`: runs the benchmark suites (all by default: core, ring, cluster, cluster-path,
 * s3, fuse, eviction, disk-encryption, s3-sse, jobs, scale, scheduler-failover, speed, soak, tls) and prints one table of ratios. Each ratio compares Strata with a baseline measured
 * in the same run. Flags after the suite names go to each suite (e.g. `-- jobs --only small`).
 * Results also go to bench/results/*.json.
 */
import { printTable, type Row, saveResults } from './report.js';

type Suite = (flags: string[]) => Promise<Row[]>;

/** A suite from its module's export, loaded only when it runs; `preset` flags go before the caller's. */
function lazy<K extends string, M extends Record<K, (flags: string[]) => Row[] | Promise<Row[]>>>(
  load: () => Promise<M>,
  name: K,
  preset: string[] = [],
): Suite {
  return async (flags) => (await load())[name]([...preset, ...flags]);
}

const SUITES: Record<string, Suite> = {
  core: lazy(() => import('./core.js'), 'runCoreBench'),
  ring: lazy(() => import('./ring.js'), 'runRingBench', ['--keys', '1000000']),
  cluster: lazy(() => import('./cluster.js'), 'runClusterBench'),
  'cluster-path': lazy(() => import('./cluster-path.js'), 'runClusterPathBench'),
  s3: lazy(() => import('./s3-gateway.js'), 'runS3GatewayBench'),
  fuse: lazy(() => import('./fuse.js'), 'runFuseBench'),
  eviction: lazy(() => import('./eviction.js'), 'runEvictionBench'),
  'disk-encryption': lazy(() => import('./disk-encryption.js'), 'runDiskEncryptionBench'),
  's3-sse': lazy(() => import('./s3-sse.js'), 'runS3SseBench'),
  's3-sse-passthrough': lazy(() => import('./s3-sse-passthrough.js'), 'runS3SsePassthroughBench'),
  jobs: lazy(() => import('./jobs.js'), 'runJobsBench'),
  scale: lazy(() => import('./scale.js'), 'runScaleBench'),
  listing: lazy(() => import('./listing.js'), 'runListingBench'),
  'page-index': lazy(() => import('./page-index-heap.js'), 'runPageIndexHeapBench'),
  'worker-scale': lazy(() => import('./worker-scale.js'), 'runWorkerScaleBench'),
  'scheduler-failover': lazy(() => import('./scheduler-failover.js'), 'runSchedulerFailoverBench'),
  speed: lazy(() => import('./speed.js'), 'runSpeedBench'),
  soak: lazy(() => import('./soak.js'), 'runSoakBench'),
  tls: lazy(() => import('./tls.js'), 'runTlsBench'),
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
