// One-off (issue 10, session 3): re-key cached experiment runs after the probe's steps left the other methods'
// key and pretraining left the supervised baseline's (run from /work/main with tsx; not part of the app).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUDGETS } from '../main/ml/experiment/budgets.js';
import { loadSplit, runCacheKey } from '../main/ml/experiment/acdc.js';
import { recipeLevers, hasLevers, type Levers } from '../main/ml/experiment/levers.js';

const W = '/work/experiments/acdc-2h';
const bl = (m: string) => `${W}/pretrain-${m}/best.p2r`;
const folders: Array<{ dir: string; levers: Levers; evalOn: 'test' | 'dev'; pre: Array<[string, number, string]> }> = [
  { dir: `${W}/runs`, levers: {}, evalOn: 'test', pre: [['pix2rep', 150, bl('pix2rep')], ['pix2rep-v2', 150, bl('pix2rep-v2')]] },
  { dir: `${W}/levers/eval-dev/runs`, levers: {}, evalOn: 'dev', pre: [['pix2rep', 150, bl('pix2rep')], ['pix2rep-v2', 150, bl('pix2rep-v2')]] },
  { dir: `${W}/levers/method-v1_views-geometric_eval-dev/runs`, levers: { method: 'v1', views: 'geometric' }, evalOn: 'dev', pre: [['pix2rep', 150, `${W}/levers/pretrain_views-geometric/pretrain-pix2rep/best.p2r`]] },
];
const split = loadSplit();
const budget = BUDGETS['2h'];
const oldBudget = { ...budget, linearSteps: 120 };
for (const f of folders) {
  const recipe = recipeLevers(f.levers);
  const base = { budget: oldBudget, split, pretraining: f.pre };
  const obj = hasLevers(recipe) || f.evalOn !== 'test' ? { ...base, levers: recipe, evalOn: f.evalOn } : base;
  const old = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  const fresh = runCacheKey(budget, split, f.pre, f.levers, f.evalOn, 'other');
  const scratch = runCacheKey(budget, split, [], f.levers, f.evalOn, 'scratch');
  for (const name of readdirSync(f.dir)) {
    const p = join(f.dir, name);
    const saved = JSON.parse(readFileSync(p, 'utf8')) as { key: string; result: { method: string } };
    if (saved.result.method.endsWith('-linear')) continue;
    const want = saved.result.method === 'supervised' ? scratch : fresh;
    if (saved.key === want) continue;
    if (saved.key !== old && saved.key !== fresh) {
      console.log(`${p}: key ${saved.key} is neither the old key ${old} nor ${fresh}: left alone`);
      continue;
    }
    writeFileSync(p, JSON.stringify({ ...saved, key: want }));
    console.log(`${p}: ${saved.key} → ${want}`);
  }
}
