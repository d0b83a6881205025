import { describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import { leverFewShotOverrides, leverPretrainOverrides, leverSlug, parseLevers, pretrainingLevers } from '../../../../main/ml/experiment/levers.js';

describe('levers: pretraining views and the fine-tuning rate', () => {
  it('geometric views keep rotation and flips and switch off zoom-crop, elastic and every intensity change', () => {
    const l = parseLevers(['views=geometric']);
    const cfg = pretrainConfig('compact', leverPretrainOverrides(l, 150));
    const paper = pretrainConfig('compact');
    expect(cfg.augment.spatial.rotationDeg).toEqual(paper.augment.spatial.rotationDeg);
    expect(cfg.augment.spatial.flipWeights).toEqual(paper.augment.spatial.flipWeights);
    expect(cfg.augment.spatial.zoomScale).toEqual([1, 1]);
    expect(cfg.augment.spatial.elastic.p).toBe(0);
    for (const t of Object.values(cfg.augment.intensity)) expect(t.p).toBe(0);
    // it changes the pretrained weights, so the pretraining gets its own folder
    expect(pretrainingLevers(l)).toEqual({ views: 'geometric' });
    expect(leverSlug(l)).toBe('views-geometric');
    expect(leverPretrainOverrides(parseLevers(['views=paper']), 150)).toEqual({});
  });

  it('sets the backbone rate of fine-tuning only, never the supervised baseline nor the frozen probe', () => {
    const l = parseLevers(['finetuneLr=1e-3']);
    expect(fewShotConfig('finetune', leverFewShotOverrides(l, 'finetuned')).lr).toEqual({ head: 1e-2, backbone: 1e-3 });
    expect(fewShotConfig('supervised', leverFewShotOverrides(l, 'scratch')).lr).toEqual({ head: 1e-3, backbone: 1e-3 });
    expect(fewShotConfig('linear', leverFewShotOverrides(l, 'frozen')).lr.backbone).toBe(0);
    expect(() => parseLevers(['finetuneLr=0'])).toThrow(/finetuneLr must be a number > 0/);
    expect(() => parseLevers(['views=none'])).toThrow(/views must be one of paper, geometric/);
  });

  it("sets the head rate of the networks from scratch only, leaving fine-tuning's and the probe's alone", () => {
    const l = parseLevers(['scratchHeadLr=1e-2']);
    expect(fewShotConfig('supervised', leverFewShotOverrides(l, 'scratch')).lr).toEqual({ head: 1e-2, backbone: 1e-3 });
    expect(fewShotConfig('mean-teacher', { meanTeacherBase: 'supervised', ...leverFewShotOverrides(l, 'scratch') }).lr).toEqual({ head: 1e-2, backbone: 1e-3 });
    expect(fewShotConfig('finetune', leverFewShotOverrides(l, 'finetuned')).lr).toEqual({ head: 1e-2, backbone: 1e-3 });
    expect(fewShotConfig('linear', leverFewShotOverrides(l, 'frozen')).lr).toEqual({ head: 7.6e-3, backbone: 0 });
    expect(leverSlug(l)).toBe('scratchHeadLr-0.01');
    expect(() => parseLevers(['scratchHeadLr=-1'])).toThrow(/scratchHeadLr must be a number > 0/);
    expect(parseLevers(['method=none'])).toEqual({ method: 'none' });
    expect(() => parseLevers(['method=v3'])).toThrow(/method must be one of v1, v2, none/);
  });
});
