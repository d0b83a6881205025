import type { EngineStatus } from '../contract/engine.js';
import { chooseBackend } from '../ml/backends/probe.js';
import { appVersion } from './version.js';

const started = Date.now();

export function engineStatus(workspace: string): EngineStatus {
  const choice = chooseBackend();
  return {
    appVersion: appVersion(),
    nodeVersion: process.versions.node,
    electronVersion: process.versions.electron ?? null,
    platform: `${process.platform}-${process.arch}`,
    workspace,
    backend: { selected: choice.selected, reason: choice.reason, probes: choice.probes },
    uptime: (Date.now() - started) / 1000,
  };
}
