#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli by `npm install` (the prepare script).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`strata: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
