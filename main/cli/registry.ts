import type { Command } from './command.js';
import { SUMMARIES, type CommandName } from './summaries.js';

/** A sub-command as `--help` lists it; its module (and the engine parts it needs) loads only when it runs. */
export interface CommandEntry {
  name: CommandName;
  summary: string;
  load(): Promise<Command>;
}

/**
 * Every `pix2rep` sub-command, in the order `--help` lists them. Loading is lazy because importing every
 * command pulls in the whole engine (tfjs, itk-wasm, SQLite): seconds of start-up for `--help`.
 * test/engine/cli/registry.test.ts checks that each entry's name and summary are its command module's.
 */
export const commands: CommandEntry[] = [
  { name: 'serve', summary: SUMMARIES.serve, load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'doctor', summary: SUMMARIES.doctor, load: async () => (await import('./commands/doctor.js')).doctorCommand },
  { name: 'import', summary: SUMMARIES.import, load: async () => (await import('./commands/import.js')).importCommand },
  { name: 'studies', summary: SUMMARIES.studies, load: async () => (await import('./commands/studies.js')).studiesCommand },
  { name: 'export', summary: SUMMARIES.export, load: async () => (await import('./commands/export.js')).exportCommand },
  { name: 'evaluate', summary: SUMMARIES.evaluate, load: async () => (await import('./commands/evaluate.js')).evaluateCommand },
  { name: 'pretrain', summary: SUMMARIES.pretrain, load: async () => (await import('./commands/pretrain.js')).pretrainCommand },
  { name: 'jobs', summary: SUMMARIES.jobs, load: async () => (await import('./commands/jobs.js')).jobsCommand },
  { name: 'embed', summary: SUMMARIES.embed, load: async () => (await import('./commands/embed.js')).embedCommand },
  { name: 'train', summary: SUMMARIES.train, load: async () => (await import('./commands/train.js')).trainCommand },
  { name: 'predict', summary: SUMMARIES.predict, load: async () => (await import('./commands/predict.js')).predictCommand },
  { name: 'models', summary: SUMMARIES.models, load: async () => (await import('./commands/models.js')).modelsCommand },
  { name: 'experiment', summary: SUMMARIES.experiment, load: async () => (await import('./commands/experiment.js')).experimentCommand },
  { name: 'bench', summary: SUMMARIES.bench, load: async () => (await import('./commands/bench.js')).benchCommand },
];
