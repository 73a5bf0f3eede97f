import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Gives the calling thread the nice value `nice` (19 is the lowest priority), so that the threads of the event loop
 * and of I/O come first when all want a core. Linux only, where a thread's id, read from /proc/thread-self, names it
 * alone to setpriority(2); elsewhere, or where the system refuses, the thread keeps its priority: a matter of
 * latency, not of correctness.
 */
export function lowerThreadPriority(nice: number): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not Linux, no /proc, or refused
  }
}
