import type { Reader } from './reader.js';
import { Writer } from './writer.js';

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** Reads an array; a null array becomes null where the field is nullable in this version, else an empty array. */
export function readArray<T>(r: Reader, flexible: boolean, readOne: () => T, nullable: boolean): T[] {
  const n = r.arrayLength(flexible);
  if (n < 0) return (nullable ? null : []) as T[];
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = readOne();
  return out;
}

export function writeArray<T>(w: Writer, flexible: boolean, items: readonly T[] | null | undefined, writeOne: (item: T) => void): void {
  if (items === null || items === undefined) {
    w.arrayLength(-1, flexible);
    return;
  }
  w.arrayLength(items.length, flexible);
  for (const item of items) writeOne(item);
}

/** Writes a tagged-field section; each entry is encoded on its own to learn its size. */
export function writeTaggedFields(w: Writer, tags: [number, (w: Writer) => void][]): void {
  w.uvarint(tags.length);
  for (const [tag, writeValue] of tags) {
    const inner = new Writer(64);
    writeValue(inner);
    const bytes = inner.toBuffer();
    w.uvarint(tag);
    w.uvarint(bytes.length);
    w.raw(bytes);
  }
}
