import type { JobSchedule, JobScheduleInput } from '../contract/jobs.js';

/**
 * Time windows of scheduled jobs, in local time. A window with both ends repeats every day (it may wrap
 * midnight); a start alone only delays the first run; a stop alone bounds the job's time once.
 */

export function parseHHMM(s: string): { h: number; m: number } {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a time of day (expected HH:MM, 24 h)`);
  return { h: Number(m[1]), m: Number(m[2]) };
}

/** The first instant strictly after `after` (or at it, when `inclusive`) whose local time of day is `hhmm`. */
export function nextAt(hhmm: string, after: number, inclusive = false): number {
  const { h, m } = parseHHMM(hhmm);
  const d = new Date(after);
  d.setHours(h, m, 0, 0);
  let t = d.getTime();
  while (inclusive ? t < after : t <= after) {
    d.setDate(d.getDate() + 1);
    d.setHours(h, m, 0, 0);
    t = d.getTime();
  }
  return t;
}

/** The schedule stored with a job queued at `now`. */
export function resolveSchedule(input: JobScheduleInput | undefined, now: number): JobSchedule | null {
  if (!input || (!input.start && !input.stop)) return null;
  const start = input.start ?? null;
  const stop = input.stop ?? null;
  if (start && stop && parseHHMM(start).h * 60 + parseHHMM(start).m === parseHHMM(stop).h * 60 + parseHHMM(stop).m) {
    throw new Error(`the window ${start}–${stop} is empty (start and stop are the same time)`);
  }
  return {
    start,
    stop,
    notBefore: start ? nextAt(start, now, true) : null,
    notAfter: stop && !start ? nextAt(stop, now) : null,
  };
}

export type WindowState =
  | { open: true; closesAt: number | null }
  | { open: false; opensAt: number | null; reason: string };

/** Whether a job with this schedule may run at `now`, and until when (or from when). */
export function windowAt(s: JobSchedule | null, now: number): WindowState {
  if (!s) return { open: true, closesAt: null };
  if (s.notBefore !== null && now < s.notBefore) {
    return { open: false, opensAt: s.notBefore, reason: `waits for its start at ${fmt(s.notBefore)}` };
  }
  if (s.start && s.stop) {
    const opens = nextAt(s.start, now);
    const closes = nextAt(s.stop, now);
    // Inside the window exactly when the next stop comes before the next start (both strictly after now, so
    // the start minute itself is inside and the stop minute outside).
    if (closes <= opens) return { open: true, closesAt: closes };
    return { open: false, opensAt: opens, reason: `waits for its window ${s.start}–${s.stop} (opens ${fmt(opens)})` };
  }
  if (s.notAfter !== null) {
    if (now >= s.notAfter) return { open: false, opensAt: null, reason: `its time ended at ${fmt(s.notAfter)}` };
    return { open: true, closesAt: s.notAfter };
  }
  return { open: true, closesAt: null };
}

function fmt(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
