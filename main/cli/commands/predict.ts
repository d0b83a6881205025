import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../../ml/backends/init.js';
import { loadLibraryModel } from '../../ml/fewshot/library.js';
import { disposeModel, loadedModel, predictLibraryVolume, predictNiftiFile } from '../../ml/infer/index.js';
import { openLibrary } from '../../library/library.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { writeNiftiLike, readNiftiHeader } from '../../io/nifti.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep predict --model NAME INPUT… --out DIR [--largest-component] [--workspace DIR] [--json]',
  '',
  'Segments each INPUT (a NIfTI file, or the id of a library volume) with a trained model of the workspace and',
  'writes DIR/<name>_pred.nii.gz in the input\'s exact geometry (same header and affine). A library volume',
  'also gets a `predicted` annotation recording the model. --largest-component keeps the largest connected',
  'component of each structure.',
].join('\n');

export const predictCommand: Command = {
  name: 'predict',
  summary: SUMMARIES.predict,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, { ...workspaceOption, ...jsonOption, ...helpOption, model: { type: 'string' }, out: { type: 'string' }, 'largest-component': { type: 'boolean', default: false } }, true);
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (!values.model) throw new UsageError('--model NAME is required (pix2rep models list)');
    if (!values.out) throw new UsageError('--out DIR is required');
    if (positionals.length === 0) throw new UsageError('give at least one INPUT (NIfTI file or library volume id)');
    const outDir = resolve(values.out);
    mkdirSync(outDir, { recursive: true });
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    await initBackend();
    const lib = openLibrary(workspace);
    const results: Array<{ input: string; output: string; annotationId?: string }> = [];
    try {
      const { row, file, path } = await loadLibraryModel(lib, values.model);
      const model = loadedModel(file, path);
      try {
        for (const input of positionals) {
          const opts = { largestComponent: values['largest-component'] };
          if (existsSync(input)) {
            const output = await predictNiftiFile(model, resolve(input), outDir, opts);
            results.push({ input, output });
          } else if (lib.catalog.volume(input)) {
            const vol = lib.catalog.volume(input)!;
            const r = await predictLibraryVolume(lib, row.id, input, { ...opts, model });
            const output = join(outDir, `${vol.name.replace(/\.nii(\.gz)?$/i, '').replace(/[^\w.-]+/g, '_')}_pred.nii.gz`);
            await writeNiftiLike(output, await readNiftiHeader(lib.abs(vol.storedPath)), r.labels);
            results.push({ input, output, annotationId: r.annotationId });
          } else throw new UsageError(`${input}: neither a file nor a volume id of ${workspace}`);
          if (!values.json) process.stderr.write(`${input} -> ${results[results.length - 1]!.output}\n`);
        }
      } finally {
        disposeModel(model);
      }
      if (values.json) process.stdout.write(JSON.stringify({ model: row.id, name: row.name, results }) + '\n');
      return 0;
    } finally {
      lib.close();
    }
  },
};
