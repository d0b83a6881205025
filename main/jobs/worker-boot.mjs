// Starts a job worker from the TypeScript sources through tsx's loader (as bin/pix2rep.js does), so that the
// runner can fork it from any host: the CLI, `pix2rep serve`, or a test process.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
