import type { Handlers } from '../../engine/engine.js';
import { openLibrary } from '../../library/library.js';
import { jobReadouts, modelReadouts, readoutPath, type StoredReadout } from '../../library/readouts.js';

/**
 * Contract handlers about pretraining runs as the app plans and reviews them: what a budget buys before a run
 * (ml.pretrainExpectation) and the linear-probe readouts stored with runs (ml.readouts). Registered by
 * engine/create.ts. Neither loads tfjs: both only read the catalogue, NIfTI headers and JSON files.
 */
export function pretrainHandlers(workspace: string): Handlers {
  return {
    'ml.pretrainExpectation': async (p) => {
      const { pretrainExpectation } = await import('./plan-expectation.js');
      return pretrainExpectation(workspace, p);
    },
    'ml.readouts': (p) => {
      const lib = openLibrary(workspace);
      try {
        const problems: Array<{ id: string; path: string; reason: string }> = [];
        const collect = (rows: StoredReadout[]) => {
          const out: Record<string, StoredReadout['readout']> = {};
          for (const r of rows) {
            out[r.id] = r.readout;
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
