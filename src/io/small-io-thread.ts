import { readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL, Op, SLOT_FIELDS, Slot, type SmallIoShared } from './small-io-layout.js';

// The thread that does SmallIo's requests: each queued write or read with one synchronous pwrite or pread, in
// order. TAIL counts the requests done; one message tells the event loop to look at it once the queue is empty, or
// every REPORT_EVERY requests of a long burst.
const shared = workerData as SmallIoShared;
const ring = Buffer.from(shared.ring);
const slots = new Float64Array(shared.slots);
const control = new Int32Array(shared.control);
const slotCount = slots.length / SLOT_FIELDS;

const REPORT_EVERY = 256;

let tail = 0;
for (;;) {
  let head = Atomics.load(control, CONTROL.HEAD);
  if (head === tail) {
    Atomics.store(control, CONTROL.SLEEPING, 1);
    // the wait returns at once if HEAD moved after the load above: no wake-up is lost
    Atomics.wait(control, CONTROL.HEAD, head);
    Atomics.store(control, CONTROL.SLEEPING, 0);
    continue;
  }
  for (let sinceReport = 1; tail !== head; sinceReport++) {
    const slot = ((tail >>> 0) % slotCount) * SLOT_FIELDS;
    const fd = slots[slot + Slot.FD]!;
    const at = slots[slot + Slot.RING_AT]!;
    const bytes = slots[slot + Slot.BYTES]!;
    const position = slots[slot + Slot.POSITION]!;
    let result = 0;
    try {
      result = slots[slot + Slot.OP] === Op.READ ? readSync(fd, ring, at, bytes, position) : writeSync(fd, ring, at, bytes, position);
    } catch (err) {
      result = (err as NodeJS.ErrnoException).errno ?? -5; // EIO when Node gives no errno
    }
    slots[slot + Slot.RESULT] = result;
    tail = (tail + 1) | 0;
    Atomics.store(control, CONTROL.TAIL, tail);
    if (sinceReport % REPORT_EVERY === 0) parentPort!.postMessage(0);
    head = Atomics.load(control, CONTROL.HEAD);
  }
  parentPort!.postMessage(0);
}
