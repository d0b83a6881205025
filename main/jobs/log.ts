import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Append one timestamped line to a job's log (synchronous: a line must survive the crash that follows it). */
export function appendLog(path: string, line: string, now = Date.now()): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const text = line
      .split(/\r?\n/)
      .filter((l) => l.length > 0)
      .map((l) => `${new Date(now).toISOString()} ${l}\n`)
      .join('');
    if (text) appendFileSync(path, text);
  } catch {
    // A full disk must not take the runner down with it; the job row still carries the reason.
  }
}

/** Plain-words reason for a worker that exited without reporting an outcome. */
export function exitReason(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): { reason: string; retryable: boolean } {
  if (/heap out of memory|Allocation failed|out of memory|ENOMEM|Cannot allocate memory|RangeError: Array buffer allocation failed/i.test(stderrTail)) {
    return { reason: 'the worker ran out of memory', retryable: false };
  }
  if (signal === 'SIGKILL') return { reason: 'the worker was killed by signal SIGKILL (by the user, or by the system when memory ran out)', retryable: true };
  if (signal === 'SIGTERM' || signal === 'SIGINT' || signal === 'SIGHUP') return { reason: `the worker was stopped by signal ${signal}`, retryable: true };
  if (signal) return { reason: `the worker crashed (signal ${signal})`, retryable: false };
  const last = stderrTail.trim().split('\n').filter(Boolean).pop();
  return { reason: `the worker exited with code ${code}${last ? `: ${last.slice(0, 300)}` : ''}`, retryable: false };
}
