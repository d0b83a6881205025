import type { Handlers } from '../../engine/engine.js';
import { openLibrary } from '../../library/library.js';
import type { ReadoutRecord } from './readout.js';

/**
 * Contract handlers about pretraining runs as the app plans and reviews them: what a budget buys before a run
 * (ml.pretrainExpectation) and the linear-probe readouts stored with runs (ml.readouts). Registered by
 * engine/create.ts; the modules load on first call (the readout reader pulls in the few-shot code).
 */
export function pretrainHandlers(workspace: string): Handlers {
  return {
    'ml.pretrainExpectation': async (p) => {
      const { pretrainExpectation } = await import('./plan-expectation.js');
      return pretrainExpectation(workspace, p);
    },
    'ml.readouts': async (p) => {
      const { jobReadouts, modelReadouts, readoutPath } = await import('../../library/readouts.js');
      const lib = openLibrary(workspace);
      try {
        const problems: Array<{ id: string; path: string; reason: string }> = [];
        const collect = (rows: ReturnType<typeof modelReadouts>) => {
          const out: Record<string, ReturnType<typeof summary> | null> = {};
          for (const r of rows) {
            out[r.id] = r.readout ? summary(r.readout) : null;
            if (r.problem) problems.push({ id: r.id, path: readoutPath(r.dir!), reason: r.problem });
          }
          return out;
        };
        return { models: collect(modelReadouts(lib, p?.models)), jobs: collect(jobReadouts(lib, p?.jobs)), problems };
      } finally {
        lib.close();
      }
    },
  };
}

/** The record as the contract carries it (probe timings stay in the file). */
function summary(r: ReadoutRecord) {
  return {
    description: r.description,
    structures: r.structures,
    labeledSlices: r.labeledSlices,
    validationSlices: r.validationSlices,
    points: r.points.map((q) => ({ step: q.step, epoch: q.epoch, dice: q.dice, mean: q.mean })),
  };
}
