import { hashKey } from './key-hash.js';

/** A slot: the key's 128-bit hash and its offset (a float64, exact for every offset up to 2^53). */
export const OFFSET_MAP_SLOT_BYTES = 16 + 8;
/** Fill a table only this far: past it, linear probing runs long. */
const LOAD_FACTOR = 0.9;
/**
 * A slot holds its offset plus one, so that an empty slot is a zero: a new map's memory needs no filling. Filled
 * with -1 as it was made, a map for 2 million offsets took 8-12 ms (its pages touched for the first time), during
 * which the event loop served no request.
 */
const EMPTY = 0;

/**
 * The latest offset of each record key, for one compaction round, in memory fixed at construction: each key is
 * kept as its 128-bit hash beside an offset, in an open-addressed table of 24 bytes a slot. Once `full`, a round
 * stops taking keys and cleans with what it has. Two keys of one hash would count as one key: with 128 bits
 * and the map's at most some millions of keys, the chance is below 10^-24.
 */
export class OffsetMap {
  private readonly hashes: Uint32Array;
  private readonly offsets: Float64Array;
  private readonly slots: number;
  /** The hash being looked up: reused, so that a look-up allocates nothing. */
  private readonly probe = new Uint32Array(4);
  /** Keys the map takes before it is full. */
  readonly capacity: number;
  size = 0;

  /** A map for up to `keys` keys, in at most `maxBytes` of memory (never less than one key). */
  constructor(keys: number, maxBytes: number) {
    const slots = Math.max(2, Math.min(Math.ceil(keys / LOAD_FACTOR) + 1, Math.floor(maxBytes / OFFSET_MAP_SLOT_BYTES)));
    this.slots = slots;
    this.capacity = Math.max(1, Math.floor(slots * LOAD_FACTOR));
    this.hashes = new Uint32Array(slots * 4);
    this.offsets = new Float64Array(slots);
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Sets the key's offset (the key: `key`'s bytes from `start` to `end`); a new key must not be put into a full map. */
  put(key: Uint8Array, offset: number, start = 0, end = key.length): void {
    const slot = this.find(key, start, end);
    if (this.offsets[slot] === EMPTY) {
      if (this.full) throw new Error('offset map is full');
      this.hashes.set(this.probe, slot * 4);
      this.size++;
    }
    this.offsets[slot] = offset + 1;
  }

  /** The key's offset, or -1 if the map does not hold it. */
  get(key: Uint8Array, start = 0, end = key.length): number {
    return this.offsets[this.find(key, start, end)]! - 1;
  }

  clear(): void {
    this.offsets.fill(EMPTY);
    this.size = 0;
  }

  /** The key's slot, or the empty slot where it would go (there always is one: the table never fills). */
  private find(key: Uint8Array, start: number, end: number): number {
    const { probe, hashes, offsets, slots } = this;
    hashKey(key, probe, start, end);
    let slot = probe[0]! % slots;
    for (;;) {
      if (offsets[slot] === EMPTY) return slot;
      const at = slot * 4;
      if (hashes[at] === probe[0] && hashes[at + 1] === probe[1] && hashes[at + 2] === probe[2] && hashes[at + 3] === probe[3]) return slot;
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }
}
