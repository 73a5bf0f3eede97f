#!/usr/bin/env -S node --max-semi-space-size=64
// A young generation of 64 MiB semi-spaces (V8's default is 16): a broker allocates per request and per batch,
// and smaller semi-spaces scavenge and promote far more often. Measured in docs/ARCHITECTURE.md (Request path).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error('sluice: unexpected error:', err);
    process.exitCode = 1;
  },
);
