#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=536870912:${GLIBC_TUNABLES} node --max-semi-space-size=64
// A young generation of 64 MiB semi-spaces (V8's default is 16): a broker allocates per request and per batch,
// and smaller semi-spaces scavenge and promote far more often. glibc's malloc is told to keep freed request buffers
// (up to 4 MiB each, up to 512 MiB in all) for the next requests instead of handing them back to the kernel, whose
// fresh pages cost a fault and zeroing each (and, in a VM that returns free memory to its host, a fault in the host
// too); a GLIBC_TUNABLES of the user's comes after these and wins. Both measured in docs/ARCHITECTURE.md (Request path).
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
