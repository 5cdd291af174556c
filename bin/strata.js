#!/usr/bin/env node
// Thin launcher: the CLI and daemons are compiled from src by `npm install` (the prepare script).
import { main } from '../dist/src/server/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`strata: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
