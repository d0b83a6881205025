// Starts an experiment run worker from the TypeScript sources through tsx's loader (as bin/pix2rep.js does).
import { register } from 'tsx/esm/api';

register();
await import('./run-worker.ts');
