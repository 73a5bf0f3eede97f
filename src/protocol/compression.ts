import { gunzipSync, gzipSync } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import { Compression } from './record-batch.js';
import { ErrorCode, KafkaError } from './errors.js';

export type CompressionCodec = (typeof Compression)[keyof typeof Compression];

export const COMPRESSION_NAMES: Readonly<Record<string, CompressionCodec>> = {
  none: Compression.NONE,
  gzip: Compression.GZIP,
  snappy: Compression.SNAPPY,
  lz4: Compression.LZ4,
  zstd: Compression.ZSTD,
};

// The Java client frames snappy the xerial way (magic, versions, then length-prefixed blocks); librdkafka
// writes a plain snappy block. Readers must accept both.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

function snappyDecode(data: Buffer): Buffer {
  if (data.length >= XERIAL_HEADER_BYTES && data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    const parts: Buffer[] = [];
    let at = XERIAL_HEADER_BYTES;
    while (at + 4 <= data.length) {
      const n = data.readInt32BE(at);
      at += 4;
      if (n < 0 || at + n > data.length) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'truncated xerial snappy block');
      parts.push(snappyUncompress(data.subarray(at, at + n)) as Buffer);
      at += n;
    }
    return Buffer.concat(parts);
  }
  return snappyUncompress(data) as Buffer;
}

export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      return gzipSync(data);
    case Compression.SNAPPY:
      return snappyCompress(data);
    case Compression.LZ4:
      return compressFrameSync(data);
    case Compression.ZSTD:
      return zstdCompress(data);
    default:
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${codec}`);
  }
}

export function decompress(codec: number, data: Buffer): Buffer {
  try {
    switch (codec) {
      case Compression.NONE:
        return data;
      case Compression.GZIP:
        return gunzipSync(data);
      case Compression.SNAPPY:
        return snappyDecode(data);
      case Compression.LZ4:
        return decompressFrameSync(data);
      case Compression.ZSTD:
        return zstdDecompress(data);
    }
  } catch (err) {
    if (err instanceof KafkaError) throw err;
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `cannot decompress codec ${codec} payload: ${(err as Error).message}`);
  }
  throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${codec}`);
}
