import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress } from 'snappy';
import { Compression, MAX_DECOMPRESSED_BYTES, compress, decompress, decompressedSize } from '../../src/protocol/compression.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { Attributes, Batch, validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { batchWithPayload, zstdRleFrame } from '../helpers/compressed-payloads.js';

const CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD] as const;
const MiB = 1 << 20;

const kafkaError = (code: number) => (err: unknown) => err instanceof KafkaError && err.code === code;

/** The Java client's snappy framing: magic, two versions, then int32-length-prefixed snappy blocks. */
function xerial(data: Buffer, blockBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let at = 0; at < data.length; at += blockBytes) {
    const block = snappyCompress(data.subarray(at, at + blockBytes));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** The same Zstandard frame with its 4-byte content size left out (a single-segment frame gets a 16 MiB window). */
function withoutContentSize(frame: Buffer): Buffer {
  const descriptor = frame[4]!;
  assert.equal(descriptor & 0xc3, 0x80, 'a frame with a 4-byte content size and no dictionary');
  const singleSegment = (descriptor & 0x20) !== 0;
  const window = singleSegment ? 14 << 3 : frame[5]!;
  return Buffer.concat([frame.subarray(0, 4), Buffer.from([descriptor & 0x04, window]), frame.subarray(singleSegment ? 9 : 10)]);
}

test('what each codec states is its output size (within a block), and the bound covers it', () => {
  const text = Buffer.from('{"user":42,"event":"click","page":"/home"}\n'.repeat(40_000));
  const inputs = [Buffer.from('x'), Buffer.alloc(5 * MiB), text, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251))];
  for (const codec of CODECS) {
    for (const input of inputs) {
      const compressed = compress(codec, input);
      const { stated, bound } = decompressedSize(codec, compressed);
      const name = `codec ${codec}, ${input.length} bytes: stated ${stated}, bound ${bound}`;
      // lz4 counts every block as full, so it may overstate by the last block's shortfall (4 MiB blocks here)
      assert.ok(codec === Compression.LZ4 ? stated >= input.length && stated < input.length + 4 * MiB : stated === input.length, name);
      assert.ok(bound >= input.length, name);
      assert.deepEqual(decompress(codec, compressed), input);
    }
  }
  const java = xerial(text, 32 << 10);
  assert.deepEqual(decompressedSize(Compression.SNAPPY, java), { stated: text.length, bound: text.length });
  assert.deepEqual(decompress(Compression.SNAPPY, java), text);
});

test('property: no codec output decompresses past its bound', () => {
  fc.assert(
    fc.property(fc.constantFrom(...CODECS), fc.uint8Array({ maxLength: 4096 }), fc.nat(300_000), (codec, head, zeros) => {
      const input = Buffer.concat([Buffer.from(head), Buffer.alloc(zeros)]);
      const compressed = compress(codec, input);
      assert.ok(decompressedSize(codec, compressed).bound >= decompress(codec, compressed).length);
    }),
    { numRuns: 200 },
  );
});

test('Zstandard frames without a content size: bounded from their blocks, decoded with a cap past it', () => {
  const small = zstdRleFrame(8, 0x61);
  assert.deepEqual(decompressedSize(Compression.ZSTD, small), { stated: 0, bound: MiB });
  assert.deepEqual(decompress(Compression.ZSTD, small), Buffer.alloc(MiB, 0x61));
  // 4.4 KB on the wire, 137.5 MiB decompressed: stated nowhere, so it passes produce, but never decodes past the cap
  const bomb = zstdRleFrame(1100, 0);
  assert.equal(decompressedSize(Compression.ZSTD, bomb).bound, 1100 * (128 << 10));
  assert.equal(validateBatches(batchWithPayload(Compression.ZSTD, bomb), MiB).batches.length, 1);
  assert.throws(() => decompress(Compression.ZSTD, bomb), kafkaError(ErrorCode.INVALID_RECORD));
  // a real encoder's frame whose blocks bound it past the cap (its blocks are short) while its content is not
  const text = Buffer.from('{"user":42,"event":"click","page":"/home"}\n'.repeat(250_000));
  const loose = withoutContentSize(compress(Compression.ZSTD, text));
  assert.deepEqual(decompressedSize(Compression.ZSTD, loose).stated, 0);
  assert.ok(decompressedSize(Compression.ZSTD, loose).bound > MAX_DECOMPRESSED_BYTES);
  assert.deepEqual(decompress(Compression.ZSTD, loose), text);
});

test('payloads that decompress past the cap are refused with INVALID_RECORD, at produce and at decompression', () => {
  const over = MAX_DECOMPRESSED_BYTES + MiB;
  const lz4Bomb = compressFrameSync(Buffer.alloc(over));
  const gzipBomb = gzipSync(Buffer.alloc(over));
  // a snappy block states its length first, and the decoder allocates that much: refused from the preamble alone
  const snappyLie = Buffer.concat([Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), Buffer.from([0x00])]);
  const cases: [string, number, Buffer][] = [
    ['lz4', Compression.LZ4, lz4Bomb],
    ['gzip', Compression.GZIP, gzipBomb],
    ['snappy', Compression.SNAPPY, snappyLie],
  ];
  for (const [name, codec, payload] of cases) {
    assert.ok(payload.length < MiB, `${name} bomb is ${payload.length} bytes`);
    const batch = batchWithPayload(codec, payload);
    assert.throws(() => validateBatches(batch, MiB), kafkaError(ErrorCode.INVALID_RECORD), name);
    assert.throws(() => decompress(codec, payload), kafkaError(ErrorCode.INVALID_RECORD), name);
  }
  // gzip's stated size is only a hint: a trailer that understates gets through validation, never through decompression
  const lying = Buffer.from(gzipBomb);
  lying.writeUInt32LE(10, lying.length - 4);
  assert.equal(validateBatches(batchWithPayload(Compression.GZIP, lying), MiB).batches.length, 1);
  assert.throws(() => decompress(Compression.GZIP, lying), kafkaError(ErrorCode.INVALID_RECORD));
});

test('framing that does not parse is CORRUPT_MESSAGE at produce', () => {
  const input = Buffer.from('abcdefghij'.repeat(50_000));
  // only framing is checked (gzip and plain snappy blocks have none to truncate): the bytes are not decompressed
  const half = (whole: Buffer) => whole.subarray(0, whole.length >> 1);
  const cases: [string, number, Buffer][] = [
    ['lz4 cut short', Compression.LZ4, half(compress(Compression.LZ4, input))],
    ['zstd cut short', Compression.ZSTD, half(compress(Compression.ZSTD, input))],
    ['xerial snappy cut short', Compression.SNAPPY, half(xerial(input, 64 << 10))],
  ];
  for (const codec of [Compression.GZIP, Compression.LZ4, Compression.ZSTD]) cases.push([`codec ${codec} text`, codec, Buffer.from('not compressed at all, only text')]);
  for (const [name, codec, payload] of cases) {
    assert.throws(() => validateBatches(batchWithPayload(codec, payload), MiB), kafkaError(ErrorCode.CORRUPT_MESSAGE), name);
  }
  const batch = buildRecordBatch([{ value: 'fine' }], { compression: Compression.ZSTD });
  assert.equal(batch.readInt16BE(Batch.ATTRIBUTES) & Attributes.COMPRESSION_MASK, Compression.ZSTD);
  assert.equal(validateBatches(batch, MiB).records, 1);
});
