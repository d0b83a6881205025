#!/usr/bin/env node
// The `pix2rep` command. The engine is TypeScript run through tsx's loader, so the CLI, the browser twin and
// the tests all execute the same sources with no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
