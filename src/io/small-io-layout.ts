/** The memory the event loop and the small-I/O thread share (see SmallIo). */
export interface SmallIoShared {
  /** The bytes of queued writes, and of reads once done. */
  ring: SharedArrayBuffer;
  /** One record of SLOT_FIELDS float64s per queued request. */
  slots: SharedArrayBuffer;
  /** Int32 counters, indexed by CONTROL. */
  control: SharedArrayBuffer;
}

export const SLOT_FIELDS = 6;

/**
 * A queued request's fields in its slot: a write of BYTES from the ring at RING_AT to the file at POSITION, or a read
 * of up to BYTES from there into the ring. RESULT is written by the thread before TAIL counts the request: the bytes
 * written or read, or a negative errno.
 */
export const Slot = { OP: 0, FD: 1, RING_AT: 2, BYTES: 3, POSITION: 4, RESULT: 5 } as const;

export const Op = { WRITE: 0, READ: 1 } as const;

/** HEAD: requests queued; TAIL: requests done (both int32 counters that wrap); SLEEPING: 1 while the thread waits. */
export const CONTROL = { HEAD: 0, TAIL: 1, SLEEPING: 2, FIELDS: 3 } as const;
