import { gunzipSync, gzipSync } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { gzipSize, isXerialSnappy, lz4Size, snappySize, XERIAL_HEADER_BYTES, zstdSize, type DecompressedSize } from './decompressed-size.js';
import { ErrorCode, KafkaError } from './errors.js';

/** Codec ids, the low three bits of a record batch's attributes. */
export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;

export type CompressionCodec = (typeof Compression)[keyof typeof Compression];

export const COMPRESSION_NAMES: Readonly<Record<string, CompressionCodec>> = {
  none: Compression.NONE,
  gzip: Compression.GZIP,
  snappy: Compression.SNAPPY,
  lz4: Compression.LZ4,
  zstd: Compression.ZSTD,
};

/**
 * The most a batch's records may decompress to. Batches past it are refused at produce (INVALID_RECORD) and
 * never decompressed anywhere (recompression, compaction, timestamp look-ups), so a crafted batch of a few
 * kilobytes cannot take gigabytes of memory. A full default-sized batch (1 MiB) may still compress 128-fold.
 */
export const MAX_DECOMPRESSED_BYTES = 128 << 20;

/**
 * What `data`, a records section in `codec`, decompresses to according to its framing: what an honest encoder
 * states, and what a decoder can produce at most. Throws CORRUPT_MESSAGE where the framing does not parse.
 */
export function decompressedSize(codec: number, data: Buffer): DecompressedSize {
  switch (codec) {
    case Compression.NONE:
      return { stated: data.length, bound: data.length };
    case Compression.GZIP:
      return gzipSize(data);
    case Compression.SNAPPY:
      return snappySize(data);
    case Compression.LZ4:
      return lz4Size(data);
    case Compression.ZSTD:
      return zstdSize(data);
  }
  throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${codec}`);
}

/**
 * About how many bytes decompressing `data`, a records section in `codec`, makes: what its framing states, or where
 * the framing bounds more (a Zstandard frame without its content size), that bound; a gzip stream, which bounds
 * nothing, counts at least 16 times its own size. For choosing where to do the work, not for checking: a payload
 * whose framing does not parse, or states more than MAX_DECOMPRESSED_BYTES, counts its own size, as it is refused
 * before it is decoded.
 */
export function decodingBytes(codec: number, data: Buffer): number {
  try {
    const { stated, bound } = decompressedSize(codec, data);
    if (stated > MAX_DECOMPRESSED_BYTES) return data.length;
    return Math.min(Math.max(stated, Number.isFinite(bound) ? bound : data.length * 16), MAX_DECOMPRESSED_BYTES);
  } catch {
    return data.length;
  }
}

// The Java client frames snappy the xerial way (magic, versions, then length-prefixed blocks); librdkafka
// writes a plain snappy block. Readers must accept both.
function snappyDecode(data: Buffer): Buffer {
  if (!isXerialSnappy(data)) return snappyUncompress(data) as Buffer;
  const parts: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at + 4 <= data.length; ) {
    const n = data.readInt32BE(at);
    at += 4;
    parts.push(snappyUncompress(data.subarray(at, at + n)) as Buffer);
    at += n;
  }
  return Buffer.concat(parts);
}

/** Levels for the codecs that have them (Kafka's compression.gzip.level and compression.zstd.level); -1 is zlib's default. */
export interface CompressionLevels {
  gzip: number;
  zstd: number;
}

export const DEFAULT_COMPRESSION_LEVELS: Readonly<CompressionLevels> = { gzip: -1, zstd: 3 };

export function compress(codec: number, data: Buffer, levels: Readonly<CompressionLevels> = DEFAULT_COMPRESSION_LEVELS): Buffer {
  switch (codec) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      return gzipSync(data, { level: levels.gzip });
    case Compression.SNAPPY:
      return snappyCompress(data);
    case Compression.LZ4:
      return compressFrameSync(data);
    case Compression.ZSTD:
      return zstdCompress(data, { compressionLevel: levels.zstd });
    default:
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${codec}`);
  }
}

/**
 * Decompresses a records section, never past MAX_DECOMPRESSED_BYTES: a payload that states more is refused
 * (INVALID_RECORD) before decoding, and one whose framing cannot bound its size is decoded with a cap.
 */
export function decompress(codec: number, data: Buffer): Buffer {
  const size = decompressedSize(codec, data);
  if (size.stated > MAX_DECOMPRESSED_BYTES) throw tooLarge(codec);
  try {
    switch (codec) {
      case Compression.NONE:
        return data;
      case Compression.GZIP:
        return gunzipSync(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
      case Compression.SNAPPY:
        return snappyDecode(data);
      case Compression.LZ4:
        return decompressFrameSync(data);
      case Compression.ZSTD:
        return size.bound <= MAX_DECOMPRESSED_BYTES ? zstdDecompress(data) : zstdDecompressCapped(data);
    }
  } catch (err) {
    if (err instanceof KafkaError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(codec);
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `cannot decompress codec ${codec} payload: ${(err as Error).message}`);
  }
  throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${codec}`);
}

const ZSTD_CHUNK_BYTES = 1 << 20;

/** Streams Zstandard frames out a chunk at a time, and gives up once the output passes the cap. */
function zstdDecompressCapped(data: Buffer): Buffer {
  const dctx = new zstdBinding.DCtx();
  const chunks: Buffer[] = [];
  let total = 0;
  let input = data;
  for (let more = true; input.length > 0 || more; ) {
    const chunk = Buffer.allocUnsafe(ZSTD_CHUNK_BYTES);
    const [hint, produced, consumed] = dctx.decompressStream(chunk, input);
    total += produced;
    if (total > MAX_DECOMPRESSED_BYTES) throw tooLarge(Compression.ZSTD);
    if (produced === 0 && consumed === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'zstd payload ends inside a frame');
    chunks.push(chunk.subarray(0, produced));
    input = input.subarray(consumed);
    // a frame is done when the decoder says 0; until then, a full chunk may mean more output is waiting
    more = hint !== 0;
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(codec: number): KafkaError {
  return new KafkaError(ErrorCode.INVALID_RECORD, `codec ${codec} payload decompresses to more than ${MAX_DECOMPRESSED_BYTES} bytes`);
}
