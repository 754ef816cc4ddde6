/**
 * Simulated time in milliseconds since the world's start. `manual`: time moves only when the
 * caller advances it (tests). `real`: one simulated ms per real ms. `scaled`: `speed` simulated ms
 * per real ms (a day of replication in seconds). `advance` jumps forward in every mode (warm-up).
 */
export type ClockMode = 'manual' | 'real' | 'scaled';

export interface ClockOptions {
  /** @defaultValue 'manual' */
  mode?: ClockMode;
  /** Simulated ms per real ms in scaled mode. @defaultValue 1 */
  speed?: number;
}

export class SimClock {
  readonly mode: ClockMode;
  readonly speed: number;
  private offset = 0;
  private readonly realBase = performance.now();

  constructor(options: ClockOptions = {}) {
    this.mode = options.mode ?? 'manual';
    this.speed = this.mode === 'scaled' ? (options.speed ?? 1) : 1;
    if (!(this.speed > 0)) throw new RangeError(`clock speed must be > 0, got ${this.speed}`);
  }

  now(): number {
    if (this.mode === 'manual') return this.offset;
    return this.offset + Math.floor((performance.now() - this.realBase) * this.speed);
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot advance the clock by ${ms} ms`);
    this.offset += ms;
  }

  /** Real milliseconds until simulated time reaches `at` (0 in manual mode: only advance moves it). */
  realDelayUntil(at: number): number {
    if (this.mode === 'manual') return Number.POSITIVE_INFINITY;
    return Math.max(0, (at - this.now()) / this.speed);
  }
}
