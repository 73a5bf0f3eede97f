import type { PartitionLog } from '../../src/storage/partition-log.js';

/**
 * Makes every later append to `log` report its write done only once the returned function is called, as a stalled
 * disk would: what the broker does meanwhile (reading, answering, back-pressure) is what tests look at.
 * `onAppend` sees each append's records as it is made.
 */
export function holdWrites(log: PartitionLog, onAppend: (records: Buffer) => void = () => undefined): () => void {
  const append = log.append.bind(log);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  log.append = (records, validated) => {
    onAppend(records);
    const result = append(records, validated);
    return Object.create(result, { written: { get: () => held.then(() => result.written) } });
  };
  return release;
}
