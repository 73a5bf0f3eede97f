/** Time and timers. Storage and broker code take these through their options so tests can control time. */
export interface Clock {
  now(): number;
  /** Runs `fn` every `ms` without keeping the process alive; returns a function that stops it. */
  every(ms: number, fn: () => void): () => void;
  /** Runs `fn` once after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
