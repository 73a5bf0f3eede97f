import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import fc from 'fast-check';
import { nodeFileSystem, OPEN_READ_WRITE_CREATE } from '../../src/io/file-system.js';
import { RingSpace, SMALL_IO_MAX_BYTES, SmallIo } from '../../src/io/small-io.js';
import { propertySeed } from '../helpers/property-seed.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** Bytes that differ at every position and between writes, so a write landing anywhere else shows. */
function pattern(seed: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

test('the ring hands out space that overlaps nothing still taken, and refuses only what cannot fit', () => {
  const size = 4096;
  const op = fc.oneof(fc.record({ take: fc.integer({ min: 0, max: size + 100 }) }), fc.constant({ give: true }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const ring = new RingSpace(size);
      /** Pieces still taken, oldest first. */
      const live: { at: number; bytes: number; held: number }[] = [];
      for (const o of ops) {
        if ('give' in o) {
          const oldest = live.shift();
          if (oldest) ring.give(oldest.held);
          continue;
        }
        const bytes = o.take;
        // where the next piece would go: after the newest one, or at the start when it would pass the end
        // (at the start when nothing is held: the memory most recently touched)
        const next = live.every((p) => p.held === 0) ? 0 : live[live.length - 1]!.at + live[live.length - 1]!.bytes;
        const candidate = next + bytes > size ? 0 : next;
        const fits = candidate + bytes <= size && live.every((p) => candidate + bytes <= p.at || p.at + p.bytes <= candidate);
        const at = ring.take(bytes);
        assert.equal(at, fits ? candidate : -1, `take(${bytes}) with ${JSON.stringify(live)}`);
        if (at >= 0) live.push({ at, bytes, held: ring.held });
      }
    }),
    { numRuns: 2000, seed: propertySeed(20261201) },
  );
});

test('small writes land at their positions, in every file, through ring wraps and a full ring or queue', async () => {
  await withTempDir(async (dir) => {
    // a ring of 16 KiB and 32 slots: writes of 1–1,500 bytes, the event loop turning every 10 of them (so
    // completions come in while later writes are queued), wrap it and find it full
    const writer = new SmallIo({ ringBytes: 16384, slots: 32 });
    const files = [0, 1, 2].map((i) => openSync(join(dir, `f${i}`), 'w+'));
    const expected = [0, 1, 2].map(() => [] as Buffer[]);
    const positions = [0, 0, 0];
    let queued = 0;
    let direct = 0;
    const writes: Promise<number>[] = [];
    try {
      for (let i = 0; i < 600; i++) {
        const f = i % 3;
        // two buffers per write: the ring holds them back to back
        const parts = [pattern(i, 1 + ((i * 37) % 700)), pattern(i + 1000, (i * 53) % 800)];
        const bytes = parts[0]!.length + parts[1]!.length;
        const promise = writer.writev(files[f]!, parts, bytes, positions[f]!);
        if (promise) {
          queued++;
          writes.push(promise.then((n) => (assert.equal(n, bytes), n)));
        } else {
          // what nodeFileSystem does then: the same write another way
          direct++;
          writeSync(files[f]!, Buffer.concat(parts), 0, bytes, positions[f]!);
        }
        expected[f]!.push(...parts);
        positions[f]! += bytes;
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
    } finally {
      for (const fd of files) closeSync(fd);
    }
    assert.ok(queued > 0 && direct > 0, `queued ${queued}, written directly ${direct}`);
    for (let f = 0; f < 3; f++) assert.deepEqual(readFileSync(join(dir, `f${f}`)), Buffer.concat(expected[f]!));
  });
});

test('a write that does not fit is refused at once: past the ring, past the queue', async () => {
  await withTempDir(async (dir) => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const ringFull = new SmallIo({ ringBytes: 4096, slots: 8 });
      const first = ringFull.writev(fd, [pattern(1, 3000)], 3000, 0);
      assert.ok(first);
      // 2,000 more bytes would wrap over the 3,000 not yet written
      assert.equal(ringFull.writev(fd, [pattern(2, 2000)], 2000, 3000), null);
      assert.equal(ringFull.writev(fd, [pattern(2, 5000)], 5000, 3000), null);
      await first;
      const queueFull = new SmallIo({ ringBytes: 4096, slots: 2 });
      const queued = [queueFull.writev(fd, [pattern(3, 10)], 10, 0), queueFull.writev(fd, [pattern(4, 10)], 10, 10)];
      assert.equal(queueFull.writev(fd, [pattern(5, 10)], 10, 20), null);
      assert.deepEqual(await Promise.all(queued), [10, 10]);
      // room again once they are done
      assert.equal(await queueFull.writev(fd, [pattern(5, 10)], 10, 20), 10);
      assert.deepEqual(readFileSync(join(dir, 'f')).subarray(0, 30), Buffer.concat([pattern(3, 10), pattern(4, 10), pattern(5, 10)]));
    } finally {
      closeSync(fd);
    }
  });
});

test('a failed small write rejects with the errno and code Node gives, and later writes go on', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    closeSync(openSync(path, 'w'));
    const readOnly = openSync(path, 'r');
    const writable = openSync(path, 'r+');
    try {
      const writer = new SmallIo({ ringBytes: 4096, slots: 8 });
      const failed = writer.writev(readOnly, [Buffer.from('nope')], 4, 0)!;
      const next = writer.writev(writable, [Buffer.from('fine')], 4, 0)!;
      await assert.rejects(failed, (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.errno === -9 && err.syscall === 'write');
      assert.equal(await next, 4);
      assert.equal(readFileSync(path, 'utf8'), 'fine');
    } finally {
      closeSync(readOnly);
      closeSync(writable);
    }
  });
});

test('the queue needs a power-of-two number of slots', () => {
  assert.throws(() => new SmallIo({ slots: 6000 }), RangeError);
});

test('nodeFileSystem.writev writes small and large writes alike, alone and beside others', async () => {
  await withTempDir(async (dir) => {
    const fd = await nodeFileSystem.open(join(dir, 'f'), OPEN_READ_WRITE_CREATE);
    const parts: Buffer[] = [];
    try {
      // alone (the I/O threads), then 20 at once (the first to the I/O threads, the rest beside it to the thread)
      const alone = pattern(1, 300);
      assert.equal(await nodeFileSystem.writev(fd, [alone], 0), 300);
      parts.push(alone);
      const together = Array.from({ length: 20 }, (_, i) => [pattern(100 + i, 100), pattern(200 + i, 1 + i * 50)]);
      let position = 300;
      const writes = together.map((buffers) => {
        const at = position;
        position += buffers[0]!.length + buffers[1]!.length;
        parts.push(...buffers);
        return nodeFileSystem.writev(fd, buffers, at);
      });
      assert.deepEqual(await Promise.all(writes), together.map((b) => b[0]!.length + b[1]!.length));
      const large = [pattern(3, SMALL_IO_MAX_BYTES), pattern(4, 1)];
      assert.equal(await nodeFileSystem.writev(fd, large, position), SMALL_IO_MAX_BYTES + 1);
      parts.push(...large);
    } finally {
      await nodeFileSystem.close(fd);
    }
    assert.deepEqual(readFileSync(join(dir, 'f')), Buffer.concat(parts));
  });
});

test('small reads return the bytes at their positions, through ring wraps and a full ring or queue, and short at the end of a file', async () => {
  await withTempDir(async (dir) => {
    const content = [0, 1, 2].map((i) => pattern(i + 7, 20_000 + i * 3000));
    const files = content.map((bytes, i) => {
      const fd = openSync(join(dir, `f${i}`), 'w+');
      writeSync(fd, bytes, 0, bytes.length, 0);
      return fd;
    });
    const io = new SmallIo({ ringBytes: 16384, slots: 32 });
    let queued = 0;
    let refused = 0;
    const reads: Promise<void>[] = [];
    try {
      for (let i = 0; i < 600; i++) {
        const f = i % 3;
        const length = 1 + ((i * 811) % 2000);
        // now and then from near the end of the file: fewer bytes come back than asked for
        const position = i % 50 === 0 ? content[f]!.length - 100 : (i * 7919) % content[f]!.length;
        const into = Buffer.alloc(length);
        const expected = content[f]!.subarray(position, position + length);
        const promise = io.read(files[f]!, into, length, position);
        if (!promise) {
          refused++;
          continue;
        }
        queued++;
        reads.push(promise.then((n) => assert.deepEqual(into.subarray(0, n), expected, `read ${i}`)));
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(reads);
    } finally {
      for (const fd of files) closeSync(fd);
    }
    assert.ok(queued > 0 && refused > 0, `queued ${queued}, refused ${refused}`);
  });
});

test('a failed small read rejects with the errno and code Node gives, and writes and reads queued with it go on', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    const writeOnly = openSync(path, 'w');
    const readable = openSync(path, 'r');
    try {
      const io = new SmallIo({ ringBytes: 4096, slots: 8 });
      const written = io.writev(writeOnly, [Buffer.from('written')], 7, 0)!;
      const failed = io.read(writeOnly, Buffer.alloc(4), 4, 0)!;
      const into = Buffer.alloc(7);
      const read = io.read(readable, into, 7, 0)!;
      assert.equal(await written, 7);
      await assert.rejects(failed, (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.errno === -9 && err.syscall === 'read');
      assert.equal(await read, 7);
      assert.equal(into.toString(), 'written');
    } finally {
      closeSync(writeOnly);
      closeSync(readable);
    }
  });
});

test('nodeFileSystem.read reads small and large ranges alike, alone and beside others', async () => {
  await withTempDir(async (dir) => {
    const content = pattern(9, 3 * SMALL_IO_MAX_BYTES);
    const fd = await nodeFileSystem.open(join(dir, 'f'), OPEN_READ_WRITE_CREATE);
    try {
      await nodeFileSystem.writev(fd, [content], 0);
      const readAt = async (position: number, length: number) => {
        const into = Buffer.alloc(length);
        const n = await nodeFileSystem.read(fd, into, length, position);
        return into.subarray(0, n);
      };
      // alone (the I/O threads), then 20 at once (the first to the I/O threads, the rest beside it to the thread),
      // then one over SMALL_IO_MAX_BYTES and one past the end
      assert.deepEqual(await readAt(10, 300), content.subarray(10, 310));
      const ranges = Array.from({ length: 20 }, (_, i) => [i * 5000, 1 + i * 700] as const);
      const together = await Promise.all(ranges.map(([position, length]) => readAt(position, length)));
      assert.deepEqual(together, ranges.map(([position, length]) => content.subarray(position, position + length)));
      assert.deepEqual(await readAt(5, SMALL_IO_MAX_BYTES + 1), content.subarray(5, 5 + SMALL_IO_MAX_BYTES + 1));
      assert.equal((await readAt(content.length, 100)).length, 0);
    } finally {
      await nodeFileSystem.close(fd);
    }
  });
});

test('a small read that may wait for the disk takes the I/O threads: small writes made beside it do not wait for it', async () => {
  await withTempDir(async (dir) => {
    // a read from an empty FIFO waits until something is written to it, as a read that misses the page cache
    // waits for the disk; the small writes made beside it, which take the small-I/O thread, complete meanwhile
    const fifoPath = join(dir, 'fifo');
    execFileSync('mkfifo', [fifoPath]);
    const fifo = openSync(fifoPath, constants.O_RDWR);
    const fd = await nodeFileSystem.open(join(dir, 'f'), OPEN_READ_WRITE_CREATE);
    try {
      // a large write in flight first, so that the small requests below count as made beside other I/O
      const large = pattern(1, SMALL_IO_MAX_BYTES + 1);
      const largeWritten = nodeFileSystem.writev(fd, [large], 0);
      const into = Buffer.alloc(5);
      const read = nodeFileSystem.read(fifo, into, 5, -1, true);
      const small = Array.from({ length: 10 }, (_, i) => pattern(10 + i, 100));
      let released = false;
      const release = () => {
        if (!released) writeSync(fifo, 'bytes');
        released = true;
      };
      // should the writes wait for the read after all, the FIFO is fed after a while so that they end and the
      // assertion below fails, rather than the test hanging
      const guard = setTimeout(release, 10_000);
      const written = await Promise.all(small.map((b, i) => nodeFileSystem.writev(fd, [b], large.length + i * 100)));
      const writtenWhileReadWaited = !released;
      clearTimeout(guard);
      release();
      assert.equal(writtenWhileReadWaited, true);
      assert.deepEqual(written, small.map((b) => b.length));
      assert.equal(await largeWritten, large.length);
      assert.deepEqual(readFileSync(join(dir, 'f')), Buffer.concat([large, ...small]));
      assert.equal(await read, 5);
      assert.equal(into.toString(), 'bytes');
    } finally {
      await nodeFileSystem.close(fd);
      closeSync(fifo);
    }
  });
});

test('should the thread die, what it had queued fails with EIO and later requests take the I/O threads', async () => {
  await withTempDir(async (dir) => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const io = new SmallIo({ ringBytes: 4096, slots: 8 });
      // ended before it starts: nothing queued below is ever done by it
      const exited = (io as unknown as { worker: Worker }).worker.terminate();
      const write = io.writev(fd, [Buffer.from('lost')], 4, 0)!;
      const read = io.read(fd, Buffer.alloc(4), 4, 0)!;
      const eio = (err: NodeJS.ErrnoException) => err.code === 'EIO' && err.errno === -5 && /small-I\/O thread exited/.test(err.message);
      await assert.rejects(write, eio);
      await assert.rejects(read, eio);
      await exited;
      assert.equal(io.writev(fd, [Buffer.from('x')], 1, 0), null);
      assert.equal(io.read(fd, Buffer.alloc(1), 1, 0), null);
    } finally {
      closeSync(fd);
    }
  });
});
