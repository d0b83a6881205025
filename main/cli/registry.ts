import type { Command } from './command.js';
import { doctorCommand } from './commands/doctor.js';
import { serveCommand } from './commands/serve.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { studiesCommand } from './commands/studies.js';
import { benchCommand } from './commands/bench.js';
import { evaluateCommand } from './commands/evaluate.js';

/** Every `pix2rep` sub-command, in the order `--help` lists them. */
export const commands: Command[] = [serveCommand, doctorCommand, importCommand, studiesCommand, exportCommand, evaluateCommand, benchCommand];
