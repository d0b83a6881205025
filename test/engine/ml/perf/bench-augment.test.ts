import { describe, expect, it } from 'vitest';
import { benchCommand } from '../../../../main/cli/commands/bench.js';
import { stdoutOf } from '../../../support/cli.js';

const capture = (argv: string[]) => stdoutOf(() => benchCommand.run(argv));

describe('pix2rep bench augment', () => {
  it('reports wall and CPU ms per slice for each case (no timing asserted, only the shape of the report)', async () => {
    const { code, out } = await capture(['augment', '--runs', '2', '--size', '32', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r).toMatchObject({ bench: 'augment', size: 32, runs: 2, slices_per_run: 50 });
    expect(r.cases.map((c: { name: string }) => c.name)).toEqual(['downstream pair (augmentPair)', 'Mean Teacher views (consistencyViews)', 'pretraining views (makeViews)']);
    for (const c of r.cases) {
      expect(c.ms_per_slice).toBeGreaterThan(0);
      expect(c.cpu_ms_per_slice).toBeGreaterThanOrEqual(0);
      expect(c.run_ms).toHaveLength(2);
      expect(c.run_cpu_ms).toHaveLength(2);
    }
    expect(r.machine.cpus).toBeGreaterThan(0);
  });
});
