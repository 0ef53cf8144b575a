#!/usr/bin/env node
import { main } from './entry.js';

// src/main.ts (the server: every capability, the worker, every verb) is loaded only for `serve`
// and `console`; a CLI command never loads it.
main(process.argv.slice(2), () => import('./main.js')).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sitrep: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
