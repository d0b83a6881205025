import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Folders and files of one workspace. The catalogue refers to stored files by paths relative to `root`. */
export interface WorkspaceLayout {
  root: string;
  catalog: string;
  volumes: string;
  annotations: string;
  models: string;
  jobs: string;
  logs: string;
}

export const STORE_DIRS = ['volumes', 'annotations', 'models', 'jobs', 'logs'] as const;

export function workspaceLayout(dir: string): WorkspaceLayout {
  const root = resolve(dir);
  return {
    root,
    catalog: join(root, 'catalog.sqlite'),
    volumes: join(root, 'volumes'),
    annotations: join(root, 'annotations'),
    models: join(root, 'models'),
    jobs: join(root, 'jobs'),
    logs: join(root, 'logs'),
  };
}

/** Create the workspace folders if missing (idempotent). */
export function ensureLayout(dir: string): WorkspaceLayout {
  const layout = workspaceLayout(dir);
  mkdirSync(layout.root, { recursive: true });
  for (const d of STORE_DIRS) mkdirSync(layout[d], { recursive: true });
  return layout;
}
