import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.js';
import type { AppendResult, PartitionLog } from '../../src/storage/partition-log.js';

export function batchOf(values: string[], timestamp?: number): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: `k-${v}`, value: v, timestamp })));
}

export function appendValues(log: PartitionLog, values: string[], timestamp?: number): AppendResult {
  const batch = batchOf(values, timestamp);
  return log.append(batch, validateBatches(batch, 1 << 30));
}

/** Every record from `from` to the high watermark, as [offset, value]. */
export async function readAll(log: PartitionLog, from = log.logStartOffset): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 64 * 1024);
    if (records.length === 0) break;
    for (const b of decodeRecordBatches(records)) {
      for (const r of b.records) if (r.offset >= offset) out.push([r.offset, r.value!.toString()]);
    }
    offset = out.length > 0 ? out[out.length - 1]![0] + 1 : offset;
  }
  return out;
}

export async function openLogs(dataDir: string, extra: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  return LogManager.open({ dataDir, retentionCheckMs: 3_600_000, ...extra });
}
