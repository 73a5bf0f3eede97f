/** How long each sample of a quota's rate spans (Kafka's quota.window.size.seconds, 1). */
export const QUOTA_WINDOW_MS = 1000;
/** How many samples a quota's rate is measured over: ten whole windows and the current one (quota.window.num, 11). */
export const QUOTA_SAMPLES = 11;

/**
 * A rate measured over the last QUOTA_SAMPLES windows, as Kafka's quota sensors measure it: a sample starts when
 * a value comes after the current one has lasted a window, samples older than all the windows together count
 * nothing, and the time the rate is taken over is never shorter than ten windows, so a client's first burst is
 * spread over ten seconds rather than measured over the moment it took.
 */
export class SampledRate {
  private readonly values = new Float64Array(QUOTA_SAMPLES);
  private readonly starts = new Float64Array(QUOTA_SAMPLES);
  private current = -1;
  /** Samples begun so far, up to QUOTA_SAMPLES. */
  private used = 0;
  /** When a value was last recorded (idle sensors are dropped). */
  lastRecordMs = 0;

  record(value: number, nowMs: number): void {
    this.lastRecordMs = nowMs;
    if (this.current < 0 || nowMs - this.starts[this.current]! >= QUOTA_WINDOW_MS) {
      this.current = (this.current + 1) % QUOTA_SAMPLES;
      this.used = Math.min(this.used + 1, QUOTA_SAMPLES);
      this.starts[this.current] = nowMs;
      this.values[this.current] = 0;
    }
    this.values[this.current]! += value;
  }

  /** The rate per second at `nowMs`. */
  rate(nowMs: number): number {
    const { total, windowMs } = this.measure(nowMs);
    return (total * 1000) / windowMs;
  }

  /**
   * How long the client must wait for the rate to come down to `bound` if it recorded nothing more (0 when within
   * it): for an observed rate O over a window W, the X with O·W / (W + X) = bound. `maxMs` bounds it.
   */
  throttleMs(bound: number, nowMs: number, maxMs = Infinity): number {
    const { total, windowMs } = this.measure(nowMs);
    const observed = (total * 1000) / windowMs;
    if (observed <= bound) return 0;
    return Math.min(Math.round(((observed - bound) / bound) * windowMs), maxMs);
  }

  private measure(nowMs: number): { total: number; windowMs: number } {
    let total = 0;
    let oldest = nowMs;
    for (let i = 0; i < this.used; i++) {
      const start = this.starts[i]!;
      if (nowMs - start >= QUOTA_SAMPLES * QUOTA_WINDOW_MS) continue; // too old to count
      total += this.values[i]!;
      if (start < oldest) oldest = start;
    }
    let windowMs = nowMs - oldest;
    const wholeWindows = Math.floor(windowMs / QUOTA_WINDOW_MS);
    if (wholeWindows < QUOTA_SAMPLES - 1) windowMs += (QUOTA_SAMPLES - 1 - wholeWindows) * QUOTA_WINDOW_MS;
    return { total, windowMs };
  }
}

/**
 * Permits that refill at `rate` a second up to a burst of QUOTA_SAMPLES seconds' worth, as Kafka counts partition
 * mutations (KIP-599): a request may take more than there are, leaving a debt that later ones wait out.
 */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;
  lastRecordMs: number;

  constructor(
    private rate: number,
    nowMs: number,
  ) {
    this.tokens = this.burst;
    this.updatedMs = nowMs;
    this.lastRecordMs = nowMs;
  }

  private get burst(): number {
    return (this.rate * QUOTA_SAMPLES * QUOTA_WINDOW_MS) / 1000;
  }

  /** Follows a change of the quota: the permits at hand stay, within the new burst. */
  setRate(rate: number, nowMs: number): void {
    this.refill(nowMs);
    this.rate = rate;
    this.tokens = Math.min(this.tokens, this.burst);
  }

  take(permits: number, nowMs: number): void {
    this.refill(nowMs);
    this.lastRecordMs = nowMs;
    this.tokens -= permits;
  }

  /** How long until the debt is paid (0 with none). */
  throttleMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 0 ? 0 : Math.round((-this.tokens / this.rate) * 1000);
  }

  private refill(nowMs: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (this.rate * Math.max(0, nowMs - this.updatedMs)) / 1000);
    this.updatedMs = nowMs;
  }
}
