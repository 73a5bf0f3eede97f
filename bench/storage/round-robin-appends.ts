import { validateBatches } from '../../src/protocol/record-batch.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';

/**
 * Appends copies of `template` round-robin over `logs` while `more(appendsIssued)` holds, keeping `inFlight` appends
 * not yet durable, and letting the event loop turn every 64 appends. Resolves once every append is durable, with
 * each one's wait in ms (issued to durable), in the order they became durable; rejects with the first failure.
 */
export async function roundRobinAppends(logs: readonly PartitionLog[], template: Buffer, inFlight: number, more: (issued: number) => boolean): Promise<number[]> {
  const waits: number[] = [];
  let pending = 0;
  let slotFreed: (() => void) | null = null;
  let failure: unknown = null;
  for (let next = 0; more(next) && failure === null; next++) {
    const records = Buffer.from(template);
    const issued = performance.now();
    pending++;
    logs[next % logs.length]!.append(records, validateBatches(records, 1 << 30)).durable.then(
      () => {
        waits.push(performance.now() - issued);
        pending--;
        slotFreed?.();
      },
      (err) => (failure = err),
    );
    if (pending >= inFlight) await new Promise<void>((resolve) => (slotFreed = resolve));
    slotFreed = null;
    if (next % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
  }
  while (pending > 0 && failure === null) await new Promise<void>((resolve) => (slotFreed = resolve));
  if (failure) throw failure;
  return waits;
}
