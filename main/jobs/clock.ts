/**
 * The runner's notion of time. Schedules ("22:00 to 07:00") are decided against `now()` and re-checked on
 * `setTimeout` ticks, so a test can drive a whole night with a manual clock instead of waiting for it.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The runner's poll timer must not by itself keep a CLI process alive after everything else ended.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * A clock that moves only when told to. Moving it is a jump, like a machine waking from sleep: time is set to
 * the target first, then every timer that fell due fires once, in due order (a timer re-armed while firing
 * counts from the new time, so jumping a night does not replay a night of polls).
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start: number | Date) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    this.set(this.t + ms);
  }

  set(to: number | Date): void {
    const target = typeof to === 'number' ? to : to.getTime();
    if (target < this.t) throw new Error('a ManualClock does not go backwards');
    this.t = target;
    const due = [...this.timers].filter(([, e]) => e.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
    for (const [id, e] of due) {
      if (!this.timers.has(id)) continue;
      this.timers.delete(id);
      e.fn();
    }
  }
}
