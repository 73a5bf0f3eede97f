import { crc32c } from '@node-rs/crc32';
import { Batch } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';

/**
 * A Zstandard frame of `blocks` RLE blocks, each 128 KiB of `byte`: four bytes per block on the wire, and no
 * content size in its header, so nothing but decoding tells how large it is.
 */
export function zstdRleFrame(blocks: number, byte: number): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]); // no content size; 128 KiB window
  const body = Buffer.alloc(blocks * 4);
  for (let i = 0; i < blocks; i++) {
    body.writeUIntLE(((128 << 10) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0), i * 4, 3);
    body[i * 4 + 3] = byte;
  }
  return Buffer.concat([header, body]);
}

/** A one-record batch whose records section is replaced by `payload` in `codec`, its length and CRC fixed. */
export function batchWithPayload(codec: number, payload: Buffer, timestamp?: number): Buffer {
  const batch = Buffer.concat([buildRecordBatch([{ value: 'x', timestamp }]).subarray(0, Batch.HEADER_BYTES), payload]);
  batch.writeInt32BE(batch.length - Batch.LOG_OVERHEAD, Batch.LENGTH);
  batch.writeInt16BE(codec, Batch.ATTRIBUTES);
  batch.writeUInt32BE(crc32c(batch.subarray(Batch.ATTRIBUTES)), Batch.CRC);
  return batch;
}
