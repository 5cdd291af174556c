/**
 * `npm run bench`: runs every benchmark and prints one table of ratios.
 * Each ratio compares Strata with a baseline measured in the same run.
 */
import { runCoreBench } from './core.js';
import { printTable, saveResults } from './report.js';

const rows = await runCoreBench(process.argv.slice(2));
printTable(`Strata benchmarks (${new Date().toISOString()})`, rows);
const file = await saveResults('all', rows);
process.stdout.write(`\nresults: ${file}\n`);
