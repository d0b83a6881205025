import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where the workspace lives unless `--workspace DIR` says otherwise: `PIX2REP_WORKSPACE`, else the
 * platform's per-user data directory (never a network location, never the current folder).
 */
export function defaultWorkspaceDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.PIX2REP_WORKSPACE) return resolve(env.PIX2REP_WORKSPACE);
  const home = env.HOME ?? homedir();
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Pix2Rep', 'workspace');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Pix2Rep', 'workspace');
  return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'pix2rep', 'workspace');
}
