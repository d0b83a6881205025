/**
 * A one-line terminal progress bar. On a non-TTY (CI logs, pipes) it prints a line every 10% instead of
 * redrawing, so logs stay readable.
 */
export class ProgressBar {
  private lastPct = -1;
  private readonly started = Date.now();
  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, total: number | null, note = ''): void {
    const elapsed = (Date.now() - this.started) / 1000;
    if (total && total > 0) {
      const frac = Math.min(1, done / total);
      const pct = Math.floor(frac * 100);
      const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
      const text = `${this.label} ${bar(frac)} ${pct}% ${done}/${total}${Number.isFinite(eta) ? ` ETA ${fmtSeconds(eta)}` : ''}${note ? ` ${note}` : ''}`;
      if (this.out.isTTY) this.out.write(`\r${text.slice(0, (this.out.columns ?? 120) - 1)}\x1b[K`);
      else if (pct >= this.lastPct + 10 || done === total) {
        this.out.write(text + '\n');
        this.lastPct = pct;
      }
    } else if (this.out.isTTY) {
      this.out.write(`\r${this.label} ${done}${note ? ` ${note}` : ''}\x1b[K`);
    }
  }

  done(note = ''): void {
    if (this.out.isTTY) this.out.write(`\r${this.label} done${note ? ` ${note}` : ''}\x1b[K\n`);
  }
}

function bar(frac: number, width = 24): string {
  const n = Math.round(frac * width);
  return '[' + '#'.repeat(n) + '.'.repeat(width - n) + ']';
}

export function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
