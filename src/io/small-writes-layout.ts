/** The memory the event loop and the small-writes thread share (see SmallWriter). */
export interface SmallWriteShared {
  /** The bytes of queued writes. */
  ring: SharedArrayBuffer;
  /** One record of SLOT_FIELDS float64s per queued write. */
  slots: SharedArrayBuffer;
  /** Int32 counters, indexed by CONTROL. */
  control: SharedArrayBuffer;
}

export const SLOT_FIELDS = 5;

/**
 * A queued write's fields in its slot. RESULT is written by the thread before TAIL counts the write: the bytes
 * written, or a negative errno.
 */
export const Slot = { FD: 0, RING_AT: 1, BYTES: 2, POSITION: 3, RESULT: 4 } as const;

/** HEAD: writes queued; TAIL: writes done (both int32 counters that wrap); SLEEPING: 1 while the thread waits. */
export const CONTROL = { HEAD: 0, TAIL: 1, SLEEPING: 2, FIELDS: 3 } as const;
