// Property: whatever the order of appends across partitions, journal rounds, checkpoints, rolls, clean restarts
// and writes refused by a full disk, a power loss never takes an acknowledged (fsync mode) append, nor brings back
// a refused one. The disk is simulated: each file keeps
// the bytes an fdatasync or syncfs covered, and a power loss cuts every file at a random point past them.
import assert from 'node:assert/strict';
import { fstatSync } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { tempDir } from '../helpers/temp-dir.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { openLogs, readAll } from './helpers.js';

const PARTITIONS = 6;

/**
 * A disk that forgets unsynced bytes on power loss. `fsFor()` gives the file system of one process lifetime;
 * after `powerLoss`, that process is dead: its writes and syncs fail, and only a new `fsFor()` works.
 */
function forgetfulDisk() {
  /** Bytes of each data file (segments, journal) that an fdatasync or syncfs made durable. Files replaced whole
   * and synced (indexes, snapshots, metadata) are not tracked: they are either all there or not replaced. */
  const durable = new Map<string, number>();
  let life = 0;
  /** Writes, syncs, truncations and unlinks left before the power goes (Infinity: it stays on). */
  let budget = Infinity;
  /** Writes and syncs to let through, then how many to fail with ENOSPC (a write lands half its bytes first). */
  const full = { skip: 0, fail: 0 };
  const noSpace = (): boolean => {
    if (full.skip > 0) full.skip--;
    else if (full.fail > 0) return full.fail-- > 0;
    return false;
  };
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  const fsFor = (): FileSystem => {
    const mine = ++life;
    budget = Infinity;
    const paths = new Map<number, string>();
    const alive = () => {
      if (mine === life && --budget < 0) life++;
      if (mine !== life) throw Object.assign(new Error('EIO: the power is off'), { code: 'EIO' });
    };
    return {
      ...nodeFileSystem,
      open: async (path, flags) => {
        alive();
        const fd = await nodeFileSystem.open(path, flags);
        paths.set(fd, path);
        if (!durable.has(path)) durable.set(path, 0);
        return fd;
      },
      close: async (fd) => {
        paths.delete(fd);
        await nodeFileSystem.close(fd);
      },
      writev: async (fd, buffers, position) => {
        alive();
        if (noSpace()) {
          await nodeFileSystem.writev(fd, [buffers[0]!.subarray(0, buffers[0]!.length >> 1)], position);
          throw enospc();
        }
        return nodeFileSystem.writev(fd, buffers, position);
      },
      fdatasync: async (fd) => {
        alive();
        if (noSpace()) throw enospc();
        const size = fstatSync(fd).size; // what was written before the call is covered, nothing later
        await nodeFileSystem.fdatasync(fd);
        alive();
        durable.set(paths.get(fd)!, size);
      },
      ftruncate: async (fd, length) => {
        alive();
        await nodeFileSystem.ftruncate(fd, length);
        const path = paths.get(fd)!;
        durable.set(path, Math.min(durable.get(path) ?? 0, length));
      },
      syncFileSystem: async () => {
        alive();
        const sizes = await Promise.all([...durable.keys()].map(async (p) => [p, await stat(p).then((s) => s.size, () => -1)] as const));
        alive();
        for (const [p, size] of sizes) if (size >= 0) durable.set(p, size);
        return true;
      },
      unlink: async (path) => {
        alive();
        await nodeFileSystem.unlink(path);
        durable.delete(path);
      },
      writeFileAtomic: async (path, data, isDurable) => {
        alive();
        await nodeFileSystem.writeFileAtomic(path, data, isDurable);
      },
    };
  };
  /**
   * Cuts the power (now, if it is still on): the process's file system fails from then on, and each file is cut
   * somewhere between its durable and its current size.
   */
  const powerLoss = async (cutAt: (i: number) => number): Promise<void> => {
    if (budget >= 0) life++;
    let i = 0;
    for (const [path, kept] of durable) {
      const size = await stat(path).then((s) => s.size, () => -1);
      if (size < 0) {
        durable.delete(path);
        continue;
      }
      const cut = kept + Math.floor(cutAt(i++) * (size - kept + 1));
      if (cut < size) await truncate(path, Math.min(cut, size));
      durable.set(path, Math.min(cut, size));
    }
  };
  return {
    fsFor,
    powerLoss,
    /** The power goes after `ops` more writes, syncs, truncations or unlinks, wherever the process is then. */
    failAfter: (ops: number) => (budget = ops),
    /** After `skip` more writes and syncs, `fail` of them fail with ENOSPC; then space is back. */
    fillUp: (skip: number, fail: number) => Object.assign(full, { skip, fail }),
    get on() {
      return budget >= 0;
    },
  };
}

/** An idempotent producer's batch: producer id 100 + partition, epoch 0, the given first sequence. */
interface Idempotent {
  sequence: number;
}

/**
 * Appends and waits until durable. A partition rolling back a failed write refuses appends for that moment
 * (KAFKA_STORAGE_ERROR, thrown at once): those are retried, a failure of the append itself is not.
 */
async function appendWhenReady(logs: LogManager, partition: number, values: string[], idempotent?: Idempotent): Promise<void> {
  const batch = buildRecordBatch(
    values.map((v) => ({ key: `k-${v}`, value: v })),
    idempotent ? { producerId: 100 + partition, producerEpoch: 0, baseSequence: idempotent.sequence } : {},
  );
  for (;;) {
    let pending: Promise<void>;
    try {
      pending = logs.getLog('t', partition)!.append(batch, validateBatches(batch, 1 << 20)).durable;
    } catch (err) {
      if (!(err instanceof KafkaError && err.code === ErrorCode.KAFKA_STORAGE_ERROR)) throw err;
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    return pending;
  }
}

type Op =
  | { kind: 'append'; partition: number; values: string[] }
  | { kind: 'burst'; values: string[] }
  | { kind: 'diskFull'; skip: number; fail: number; values: string[] }
  | { kind: 'restart' }
  | { kind: 'powerLoss'; afterOps: number; cuts: number[] };

const value = fc.string({ minLength: 0, maxLength: 40 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), partition: fc.nat(PARTITIONS - 1), values: fc.array(value, { minLength: 1, maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('burst' as const), values: fc.array(value, { minLength: PARTITIONS, maxLength: PARTITIONS }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('diskFull' as const), skip: fc.nat(12), fail: fc.integer({ min: 1, max: 4 }), values: fc.array(value, { minLength: PARTITIONS, maxLength: PARTITIONS }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('powerLoss' as const),
      afterOps: fc.nat(60),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }),
    }),
  },
);

test('a power loss at any point keeps every acknowledged append, and idempotent retries after it land once, through journal rounds, checkpoints and rolls', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.boolean(), fc.boolean(), async (ops, journalEveryRound, idempotent) => {
      const { dir, cleanup } = await tempDir();
      const disk = forgetfulDisk();
      // tiny checkpoints and segments, so runs pass both often; either every round journaled or only wide ones
      const open = () => openLogs(dir, { fs: disk.fsFor(), directSyncMax: journalEveryRound ? 0 : 4, journalCheckpointBytes: 2048 });
      let logs: LogManager = await open();
      const model: string[][] = Array.from({ length: PARTITIONS }, () => []);
      // idempotent producers retry what was refused or lost with the same sequence, as real ones do; each
      // value must then be in the log exactly once. Plain appends are not retried.
      const nextSequence = new Array<number>(PARTITIONS).fill(0);
      const send = (p: number, values: string[]): Promise<void> => {
        if (!idempotent) return appendWhenReady(logs, p, values);
        const sequence = nextSequence[p]!;
        nextSequence[p] = sequence + values.length;
        return appendWhenReady(logs, p, values, { sequence });
      };
      const retry = async (p: number, values: string[], sequence: number): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await appendWhenReady(logs, p, values, { sequence });
          } catch (err) {
            if (attempt === 50) throw err; // a refusal that outlasts the rollback is a real answer
            await new Promise((r) => setTimeout(r, 2));
          }
        }
      };
      const check = async (when: string) => {
        for (let p = 0; p < PARTITIONS; p++) {
          const log = logs.getLog('t', p)!;
          assert.deepEqual((await readAll(log, 0)).map(([, v]) => v), model[p], `partition ${p} ${when}`);
          assert.equal(log.logEndOffset, model[p]!.length, `partition ${p} end ${when}`);
        }
      };
      try {
        await logs.createTopic('t', PARTITIONS, { 'segment.bytes': '500' });
        for (const op of ops) {
          switch (op.kind) {
            case 'append':
              await send(op.partition, op.values);
              model[op.partition]!.push(...op.values);
              break;
            case 'burst':
              await Promise.all(op.values.map((v, p) => send(p, [v])));
              op.values.forEach((v, p) => model[p]!.push(v));
              break;
            case 'diskFull': {
              // a round of appends while writes and syncs fail for a moment: the refused appends are gone for
              // good (also after a later power loss: the journal never replays them), the others are kept;
              // an idempotent producer sends its refused batch again, and it lands once
              disk.fillUp(op.skip, op.fail);
              const sequences = [...nextSequence];
              const outcomes = await Promise.allSettled(op.values.map((v, p) => send(p, [v])));
              disk.fillUp(0, 0);
              if (idempotent) await Promise.all(outcomes.map((o, p) => (o.status === 'rejected' ? retry(p, [op.values[p]!], sequences[p]!) : undefined)));
              outcomes.forEach((o, p) => (idempotent || o.status === 'fulfilled') && model[p]!.push(op.values[p]!));
              await check('after a full disk');
              break;
            }
            case 'restart':
              await logs.close();
              logs = await open();
              await check('after a clean restart');
              break;
            case 'powerLoss': {
              // keep appending to every partition, in rounds, until the power goes mid-way through whatever
              // the engine is doing (a journal round, a checkpoint, a roll); appends acknowledged by then must survive
              disk.failAfter(op.afterOps);
              const inFlight: string[][] = Array.from({ length: PARTITIONS }, () => []);
              const firstSequence = [...nextSequence];
              const acked = new Array<number>(PARTITIONS).fill(0);
              for (let round = 0; round < 20 && disk.on; round++) {
                await Promise.allSettled(
                  inFlight.map((values, p) => {
                    const v = `r${round}p${p}`;
                    values.push(v);
                    return send(p, [v]).then(() => void acked[p]!++);
                  }),
                );
              }
              const dead = logs;
              await disk.powerLoss((i) => op.cuts[i % op.cuts.length]!);
              // the dead process's timers and descriptors go; every write or sync it tries now fails
              await dead.close().catch(() => undefined);
              logs = await open();
              // what survives: everything acknowledged before, then in order at least the acknowledged in-flight
              // appends, perhaps a few more that were durable but not yet answered
              for (let p = 0; p < PARTITIONS; p++) {
                const got = (await readAll(logs.getLog('t', p)!, 0)).map(([, v]) => v);
                const before = model[p]!.length;
                assert.deepEqual(got.slice(0, before), model[p], `partition ${p}: everything acknowledged earlier`);
                const extra = got.slice(before);
                assert.deepEqual(extra, inFlight[p]!.slice(0, extra.length), `partition ${p}: in-flight appends in order`);
                assert.ok(extra.length >= acked[p]!, `partition ${p}: ${acked[p]} acknowledged in-flight appends, ${extra.length} survived`);
                model[p]!.push(...extra);
                if (!idempotent) continue;
                // the producer sends again everything it got no answer for: what survived is a duplicate (answered
                // from the log), the rest is appended, so each value ends up in the log once
                for (let i = acked[p]!; i < inFlight[p]!.length; i++) await retry(p, [inFlight[p]![i]!], firstSequence[p]! + i);
                model[p]!.push(...inFlight[p]!.slice(extra.length));
              }
              await check('after a power loss');
              break;
            }
          }
        }
        await check('at the end');
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
      }
    }),
    { numRuns: 60, seed: 20261130 },
  );
});
