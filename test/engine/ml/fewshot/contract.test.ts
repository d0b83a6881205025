import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../../main/engine/create.js';

/** The ml.* methods on the contract: validation and the answers of an empty workspace. */
describe('ml contract', () => {
  const ws = mkdtempSync(join(tmpdir(), 'p2r-mlc-'));
  afterAll(() => rmSync(ws, { recursive: true, force: true }));
  const engine = createEngine({ workspace: ws });

  it('lists no models in a new workspace', async () => {
    const r = await engine.handle({ id: 1, method: 'ml.listModels', params: {} });
    expect(r).toMatchObject({ ok: true, result: { models: [] } });
  });

  it('refuses an unknown mode and a linear probe without backbone, in words', async () => {
    const bad = await engine.handle({ id: 2, method: 'ml.train', params: { mode: 'magic' } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
    const r = await engine.handle({ id: 3, method: 'ml.train', params: { mode: 'linear' } });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect((r as { error: { message: string } }).error.message).toContain('needs a pretrained backbone');
  }, 60_000);

  it('says which model is missing when predicting', async () => {
    const r = await engine.handle({ id: 4, method: 'ml.predict', params: { model: 'nope', volumeIds: ['vol-x'] } });
    expect(r).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect((r as { error: { message: string } }).error.message).toContain('no model "nope"');
  }, 60_000);
});
