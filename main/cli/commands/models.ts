import { resolve } from 'node:path';
import { exportModel, importModel, listModels } from '../../ml/fewshot/library.js';
import { initBackend } from '../../ml/backends/init.js';
import { exportModelOnnx } from '../../ml/onnx/library.js';
import { openLibrary } from '../../library/library.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep models list [--json]',
  'pix2rep models export NAME --out DIR [--format p2s|onnx]',
  'pix2rep models import DIR',
  '',
  'Models of the workspace: pretrained backbones and segmentation models with their training record. export',
  'copies a model folder (plus model.json) to DIR/NAME; with --format onnx it writes DIR/NAME.onnx instead',
  '(backbones: embedding output; segmentation models: class logits) for PyTorch, MONAI, 3D Slicer or any',
  'ONNX runtime. import adds an exported folder to this workspace.',
].join('\n');

export const modelsCommand: Command = {
  name: 'models',
  summary: SUMMARIES.models,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, { ...workspaceOption, ...jsonOption, ...helpOption, out: { type: 'string' }, format: { type: 'string' } }, true);
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const [action, arg] = positionals;
    const lib = openLibrary(resolve(values.workspace ?? defaultWorkspaceDir()));
    try {
      if (action === 'list' || action === undefined) {
        const rows = listModels(lib);
        if (values.json) process.stdout.write(JSON.stringify({ models: rows.map(({ metrics, config: _c, ...r }) => ({ ...r, validationDice: metrics.validationDice ?? null })) }) + '\n');
        else if (rows.length === 0) process.stdout.write('no models in this workspace (pix2rep pretrain, pix2rep train)\n');
        else for (const r of rows) process.stdout.write(`${r.id}  ${r.kind.padEnd(12)} ${r.name}${typeof r.metrics.validationDice === 'number' ? `  validation Dice ${r.metrics.validationDice.toFixed(3)}` : ''}  ${r.createdAt}\n`);
        return 0;
      }
      if (action === 'export') {
        if (!arg) throw new UsageError('models export NAME --out DIR: NAME is missing');
        if (!values.out) throw new UsageError('models export needs --out DIR');
        const format = values.format ?? 'p2s';
        if (format !== 'p2s' && format !== 'onnx') throw new UsageError(`models export --format ${format}: expected p2s or onnx`);
        if (format === 'onnx') await initBackend();
        const dest = format === 'onnx' ? await exportModelOnnx(lib, arg, values.out) : exportModel(lib, arg, values.out);
        process.stdout.write(values.json ? JSON.stringify({ exported: dest }) + '\n' : `exported to ${dest}\n`);
        return 0;
      }
      if (action === 'import') {
        if (!arg) throw new UsageError('models import DIR: DIR is missing');
        const id = await importModel(lib, arg);
        process.stdout.write(values.json ? JSON.stringify({ imported: id }) + '\n' : `imported as ${id}\n`);
        return 0;
      }
      throw new UsageError(`unknown models action "${action}" (list, export, import)`);
    } finally {
      lib.close();
    }
  },
};
