import { answerRequests, asBuffer, type Answer } from '../io/request-thread.js';
import { lowerThreadPriority } from '../io/thread-priority.js';
import { batchInfoAt, batchSizeAt, type BatchInfo } from '../protocol/record-batch.js';
import { visitRecords } from '../protocol/records.js';
import type { ChunkJudgement, CleanerRequest } from './cleaner.js';
import { OffsetMap } from './offset-map.js';
import { judgeRecords, type CleaningRound } from './record-cleaning.js';

// The cleaner thread (see Cleaner): the key maps of the passes under way, and the work on records they ask for, one
// request at a time in the order they come.
const maps = new Map<number, OffsetMap>();

// background work: on two cores its thread shared one with the event loop, and appends made beside a pass waited
// p50 0.87-0.88 ms at the default priority, 0.54-0.61 ms at the lowest (`npm run bench:storage -- --compaction`)
lowerThreadPriority(19);

answerRequests(handle);

function handle(request: CleanerRequest): Answer {
  switch (request.op) {
    case 'open':
      maps.set(request.map, new OffsetMap(request.keys, request.maxBytes));
      return { value: undefined };
    case 'clear':
      mapOf(request.map).clear();
      return { value: undefined };
    case 'free':
      maps.delete(request.map);
      return { value: undefined };
    case 'map':
      return { value: mapKeys(mapOf(request.map), asBuffer(request.chunk), request.skip, request.from) };
    case 'judge': {
      const judgement = judge(mapOf(request.map), asBuffer(request.chunk), request.asked, request.round);
      const { verdicts, removed, rebuilt, rebuiltEnds } = judgement;
      return { value: judgement, transfer: [verdicts.buffer as ArrayBuffer, removed.buffer as ArrayBuffer, rebuilt, rebuiltEnds.buffer as ArrayBuffer] };
    }
  }
}

function mapOf(id: number): OffsetMap {
  const map = maps.get(id);
  if (map === undefined) throw new Error(`no key map ${id} in this thread`);
  return map;
}

/** Calls `visit` with each batch of `chunk`, which holds whole batches only, and its position among them. */
function eachBatch(chunk: Buffer, visit: (raw: Buffer, info: BatchInfo, i: number) => boolean | void): void {
  for (let at = 0, i = 0; at < chunk.length; i++) {
    const size = batchSizeAt(chunk, at);
    if (size <= 0 || at + size > chunk.length) throw new Error(`the chunk ends inside a batch at byte ${at}`);
    if (visit(chunk.subarray(at, at + size), batchInfoAt(chunk, at, size), i)) return;
    at += size;
  }
}

function mapKeys(map: OffsetMap, chunk: Buffer, skip: Uint8Array, from: number): number {
  let unmapped = -1;
  const mapRecord = (records: Buffer, keyStart: number, keyEnd: number, offset: number): boolean => {
    if (keyStart < 0 || offset < from) return false;
    if (map.full && map.get(records, keyStart, keyEnd) < 0) {
      unmapped = offset;
      return true;
    }
    map.put(records, offset, keyStart, keyEnd);
    return false;
  };
  eachBatch(chunk, (raw, info, i) => {
    if (skip[i] === 0) visitRecords(raw, info, mapRecord);
    return unmapped >= 0;
  });
  return unmapped;
}

function judge(map: OffsetMap, chunk: Buffer, asked: Uint8Array, round: CleaningRound): ChunkJudgement {
  const verdicts = new Uint8Array(asked.length);
  const removed = new Int32Array(asked.length);
  const rebuiltEnds = new Int32Array(asked.length);
  const rebuilt: Buffer[] = [];
  let rebuiltBytes = 0;
  let tombstoneDueMs = Infinity;
  eachBatch(chunk, (raw, info, i) => {
    if (asked[i] !== 0) {
      const judged = judgeRecords(raw, info, map, round);
      verdicts[i] = judged.verdict;
      removed[i] = judged.removed;
      tombstoneDueMs = Math.min(tombstoneDueMs, judged.tombstoneDueMs);
      if (judged.rebuilt !== null) {
        rebuilt.push(judged.rebuilt);
        rebuiltBytes += judged.rebuilt.length;
      }
    }
    rebuiltEnds[i] = rebuiltBytes;
  });
  // memory of its own, handed over whole (a rebuilt batch may be a view of a shared pool)
  const packed = Buffer.allocUnsafeSlow(rebuiltBytes);
  let at = 0;
  for (const batch of rebuilt) at += batch.copy(packed, at);
  return { verdicts, removed, rebuilt: packed.buffer as ArrayBuffer, rebuiltEnds, tombstoneDueMs };
}
