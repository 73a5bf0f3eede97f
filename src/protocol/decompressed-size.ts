import { ErrorCode, KafkaError } from './errors.js';

// What a compressed records section decompresses to, read from each codec's own framing without decompressing
// anything: a crafted batch of a few kilobytes can otherwise expand to gigabytes. Two figures per payload:
// `stated`, what the framing of an honest encoder says (the size, or within one block of it), and `bound`,
// what a decoder can produce at most whatever the encoder (Infinity where the framing cannot bound it).

export interface DecompressedSize {
  stated: number;
  bound: number;
}

function corrupt(codec: string, why: string): never {
  throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `${codec} payload: ${why}`);
}

function need(data: Buffer, end: number, codec: string): void {
  if (end > data.length) corrupt(codec, 'framing runs past the end of the batch');
}

/** A snappy block starts with its uncompressed length as a little-endian base-128 varint. */
function snappyBlockLength(data: Buffer, at: number, end: number): number {
  let value = 0;
  for (let shift = 0, p = at; p < end && shift <= 28; shift += 7, p++) {
    const byte = data[p]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return value;
  }
  return corrupt('snappy', 'bad length preamble');
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
export const XERIAL_HEADER_BYTES = 16;

export function isXerialSnappy(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, 8).equals(XERIAL_MAGIC);
}

/**
 * A plain snappy block, and each block of the Java client's xerial framing, starts with its length, and the
 * decoder allocates that much and produces exactly that.
 */
export function snappySize(data: Buffer): DecompressedSize {
  const bytes = snappyLength(data);
  return { stated: bytes, bound: bytes };
}

function snappyLength(data: Buffer): number {
  if (!isXerialSnappy(data)) return snappyBlockLength(data, 0, data.length);
  let total = 0;
  let at = XERIAL_HEADER_BYTES;
  while (at < data.length) {
    need(data, at + 4, 'snappy');
    const n = data.readInt32BE(at);
    at += 4;
    if (n < 0) corrupt('snappy', 'negative xerial block length');
    need(data, at + n, 'snappy');
    total += snappyBlockLength(data, at, at + n);
    at += n;
  }
  return total;
}

const SKIPPABLE_FRAME_MASK = 0xfffffff0;
const SKIPPABLE_FRAME = 0x184d2a50;
/**
 * Walks the frames of an LZ4 or Zstandard payload, passing over skippable frames (the same in both formats):
 * `frame` reads the frame at `at` and returns where it ends.
 */
function forEachFrame(data: Buffer, codec: string, magic: number, frame: (at: number) => number): void {
  for (let at = 0; at < data.length; ) {
    need(data, at + 4, codec);
    const found = data.readUInt32LE(at);
    if ((found & SKIPPABLE_FRAME_MASK) >>> 0 === SKIPPABLE_FRAME) {
      need(data, at + 8, codec);
      at += 8 + data.readUInt32LE(at + 4);
    } else if (found === magic) {
      at = frame(at);
    } else {
      corrupt(codec, 'not a frame of this codec');
    }
    need(data, at, codec);
  }
}

const LZ4_FRAME = 0x184d2204;
/** Block maximum sizes by the frame's BD byte (bits 4-6); ids below 4 are invalid. */
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * LZ4 frames: every block regenerates at most the frame's block maximum size (an uncompressed block exactly
 * its own size), and encoders fill every block but the last; a declared content size counts too, as a decoder
 * may allocate it up front.
 */
export function lz4Size(data: Buffer): DecompressedSize {
  let total = 0;
  forEachFrame(data, 'lz4', LZ4_FRAME, (at) => {
    need(data, at + 7, 'lz4');
    const flags = data[at + 4]!;
    const blockMax = LZ4_BLOCK_MAX[(data[at + 5]! >> 4) & 7]!;
    if (flags >> 6 !== 1 || blockMax === 0) corrupt('lz4', 'unsupported frame descriptor');
    let p = at + 6;
    let declared = 0;
    if (flags & 0x08) {
      need(data, p + 8, 'lz4');
      declared = Number(data.readBigUInt64LE(p));
      p += 8;
    }
    if (flags & 0x01) p += 4; // dictionary id
    p += 1; // header checksum
    const blockChecksum = flags & 0x10 ? 4 : 0;
    let blocks = 0;
    for (;;) {
      need(data, p + 4, 'lz4');
      const word = data.readUInt32LE(p);
      p += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax) corrupt('lz4', 'block larger than the frame allows');
      blocks += word & 0x80000000 ? size : blockMax;
      p += size + blockChecksum;
      need(data, p, 'lz4');
    }
    if (flags & 0x04) p += 4; // content checksum
    total += Math.max(blocks, declared);
    return p;
  });
  return { stated: total, bound: total };
}

const ZSTD_FRAME = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 << 10;

/**
 * Zstandard frames: a frame may state its content size (the decoder then allocates it up front). Raw and RLE
 * blocks state what they regenerate; a compressed block regenerates at most min(window size, 128 KiB), a loose
 * bound: encoders end blocks early on repetitive data (10 KiB blocks of 11 bytes, measured), so only the
 * content sizes count as stated.
 */
export function zstdSize(data: Buffer): DecompressedSize {
  let stated = 0;
  let bound = 0;
  forEachFrame(data, 'zstd', ZSTD_FRAME, (at) => {
    need(data, at + 5, 'zstd');
    const descriptor = data[at + 4]!;
    if (descriptor & 0x08) corrupt('zstd', 'reserved frame header bit set');
    const singleSegment = (descriptor & 0x20) !== 0;
    let p = at + 5;
    let window = Infinity;
    if (!singleSegment) {
      need(data, p + 1, 'zstd');
      const exponent = data[p]! >> 3;
      const base = 2 ** (10 + exponent);
      window = base + (base / 8) * (data[p]! & 7);
      p += 1;
    }
    p += [0, 1, 2, 4][descriptor & 3]!; // dictionary id
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    need(data, p + contentSizeBytes, 'zstd');
    let declared = 0;
    if (contentSizeBytes === 1) declared = data[p]!;
    else if (contentSizeBytes === 2) declared = data.readUInt16LE(p) + 256;
    else if (contentSizeBytes === 4) declared = data.readUInt32LE(p);
    else if (contentSizeBytes === 8) declared = Number(data.readBigUInt64LE(p));
    p += contentSizeBytes;
    if (singleSegment) window = declared;
    const blockMax = Math.min(window, ZSTD_BLOCK_MAX);
    let blocks = 0;
    for (let last = false; !last; ) {
      need(data, p + 3, 'zstd');
      const header = data.readUIntLE(p, 3);
      p += 3;
      last = (header & 1) === 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3 || size > ZSTD_BLOCK_MAX) corrupt('zstd', 'invalid block header');
      if (type === 0) {
        blocks += size;
        p += size;
      } else if (type === 1) {
        blocks += size;
        p += 1;
      } else {
        blocks += blockMax;
        p += size;
      }
      need(data, p, 'zstd');
    }
    if (descriptor & 0x04) p += 4; // content checksum
    stated += declared;
    bound += Math.max(blocks, declared);
    return p;
  });
  return { stated, bound };
}

/**
 * Gzip's framing bounds nothing (a deflate stream can expand about 1000-fold); its trailer states the size
 * modulo 2^32, which a crafted stream can fake. Decompression itself must cap gzip's output.
 */
export function gzipSize(data: Buffer): DecompressedSize {
  if (data.length < 18 || data[0] !== 0x1f || data[1] !== 0x8b) corrupt('gzip', 'not a gzip stream');
  return { stated: data.readUInt32LE(data.length - 4), bound: Infinity };
}
