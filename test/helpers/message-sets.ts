// Message sets of the old formats (magic 0 and 1) written and read the way an old client does, for tests of the
// broker's conversions: byte layouts from the protocol guide, independent of src/protocol/message-sets.ts.
import { crc32 } from '@node-rs/crc32';
import { compress } from '../../src/protocol/compression.js';

export interface OldMessage {
  key: string | null;
  value: string | null;
  /** magic 1 only */
  timestamp?: number;
}

export interface ReadMessage {
  offset: number;
  magic: number;
  attributes: number;
  timestamp: number | null;
  key: string | null;
  value: string | null;
}

function bytesField(s: Buffer | string | null): Buffer {
  const b = s === null ? null : Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeInt32BE(b === null ? -1 : b.length);
  return b === null ? len : Buffer.concat([len, b]);
}

function message(offset: number, magic: 0 | 1, attributes: number, timestamp: number, key: Buffer | string | null, value: Buffer | string | null): Buffer {
  const head = Buffer.alloc(magic === 1 ? 10 : 2);
  head.writeInt8(magic, 0);
  head.writeInt8(attributes, 1);
  if (magic === 1) head.writeBigInt64BE(BigInt(timestamp), 2);
  const body = Buffer.concat([head, bytesField(key), bytesField(value)]);
  const out = Buffer.alloc(16);
  out.writeBigInt64BE(BigInt(offset), 0);
  out.writeInt32BE(body.length + 4, 8);
  out.writeUInt32BE(crc32(body), 12);
  return Buffer.concat([out, body]);
}

/**
 * A produced message set. With a codec, the messages go into one wrapper, compressed as `wrap` makes them (the codec's
 * own framing by default): inner offsets 0.. in magic 0, relative in magic 1 with the wrapper at the last, as producers do.
 */
export function messageSet(messages: OldMessage[], magic: 0 | 1, codec = 0, wrap: (inner: Buffer) => Buffer = (inner) => compress(codec, inner)): Buffer {
  const plain = messages.map((m, i) => message(i, magic, 0, m.timestamp ?? -1, m.key, m.value));
  if (codec === 0) return Buffer.concat(plain);
  const newest = Math.max(...messages.map((m) => m.timestamp ?? -1));
  return message(magic === 1 ? messages.length - 1 : 0, magic, codec, newest, null, wrap(Buffer.concat(plain)));
}

/** Reads an uncompressed message set as an old consumer does; a partial trailing message is ignored. */
export function readMessageSet(set: Buffer): ReadMessage[] {
  const out: ReadMessage[] = [];
  for (let at = 0; at + 12 <= set.length; ) {
    const size = set.readInt32BE(at + 8);
    if (at + 12 + size > set.length) break;
    const body = set.subarray(at + 16, at + 12 + size);
    if (crc32(body) !== set.readUInt32BE(at + 12)) throw new Error(`CRC32 mismatch in the message at byte ${at}`);
    const magic = body.readInt8(0);
    let pos = magic === 1 ? 10 : 2;
    const field = () => {
      const n = body.readInt32BE(pos);
      pos += 4;
      if (n < 0) return null;
      pos += n;
      return body.subarray(pos - n, pos).toString();
    };
    const timestamp = magic === 1 ? Number(body.readBigInt64BE(2)) : null;
    const key = field();
    const value = field();
    if (pos !== body.length) throw new Error(`${body.length - pos} bytes after the message at byte ${at}`);
    out.push({ offset: Number(set.readBigInt64BE(at)), magic, attributes: body.readInt8(1), timestamp, key, value });
    at += 12 + size;
  }
  return out;
}
