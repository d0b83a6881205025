import { STRUCTURES, type ExperimentResult, type MethodId, type RunResult } from './acdc.js';

/**
 * The order methods appear in every report table: the baseline and the untrained control (the two without
 * pretraining) first, Mean Teacher (built on one of them) last.
 */
export const METHOD_ORDER: MethodId[] = ['supervised', 'untrained-finetune', 'pix2rep-linear', 'pix2rep-finetune', 'pix2rep-v2-linear', 'pix2rep-v2-finetune', 'mean-teacher'];

/** Mean ± sample SD over seeds (SD omitted with one seed: there is no spread to report). */
export function meanSd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(3);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

/** The runs of each regime and method that has any, in report order (regimes, then baseline-only regimes; METHOD_ORDER). */
export function runGroups(r: ExperimentResult): Array<{ regime: string; method: MethodId; runs: RunResult[] }> {
  const out: Array<{ regime: string; method: MethodId; runs: RunResult[] }> = [];
  for (const regime of [...r.budget.regimes, ...r.budget.baselineRegimes]) {
    for (const method of METHOD_ORDER) {
      const runs = r.runs.filter((x) => x.regime === regime && x.method === method);
      if (runs.length) out.push({ regime, method, runs });
    }
  }
  return out;
}

/** The Dice table of an experiment (header and one row per regime and method), shared by the budget and lever sections. */
export function diceTableLines(r: ExperimentResult): string[] {
  const lines = ['| Labeled patients | Method | RV | MYO | LV | Mean | Kept step (per seed) |', '|---|---|---|---|---|---|---|'];
  for (const { regime, method: m, runs } of runGroups(r)) {
    const name = m === 'mean-teacher' ? `mean-teacher (on ${runs[0]!.base})` : m;
    const cells = [...STRUCTURES.map((s) => meanSd(runs.map((x) => x.mean[s.name]!))), meanSd(runs.map((x) => x.mean.mean!))];
    lines.push(`| ${regime} | ${name} | ${cells.join(' | ')} | ${runs.map((x) => `${x.bestStep}/${x.steps}`).join(', ')} |`);
  }
  return lines;
}

/** Per scored patient: mean Dice over the three structures, averaged over the seeds the method ran with. */
export function patientScores(runs: RunResult[]): Map<string, number> {
  const sums = new Map<string, number[]>();
  for (const run of runs) {
    for (const p of run.patients) {
      const score = STRUCTURES.reduce((a, s) => a + p.dice[s.name]!, 0) / STRUCTURES.length;
      sums.set(p.patient, [...(sums.get(p.patient) ?? []), score]);
    }
  }
  return new Map([...sums].map(([k, xs]) => [k, xs.reduce((a, b) => a + b, 0) / xs.length]));
}

/** A difference with its sign always shown (a typographic minus), three decimals. */
export const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;

/**
 * "wall time …" of a report: the time of every invocation on the work folder, so a budget run in parts, or a
 * report rewritten from cached runs, shows what the whole experiment took.
 */
export function wallTimeText(r: ExperimentResult): string {
  const inv = r.invocations ?? [];
  const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
  if (inv.length < 2) return `wall time ${minutes(r.wallSeconds)}`;
  const total = inv.reduce((a, x) => a + x.seconds, 0);
  const parts = inv.map((x) => `${minutes(x.seconds)} (${x.trainedRuns} runs trained${x.reusedRuns ? `, ${x.reusedRuns} reused` : ''})`).join(' + ');
  return `wall time ${minutes(total)} over ${inv.length} invocations on the same work folder: ${parts}`;
}
