/**
 * Sandboxed preload: exposes exactly the Pix2RepBridge as `window.pix2rep`, a handful of functions that
 * take and return plain strings. ipcRenderer itself, its events and their senders never reach the page.
 * Bundled into one CommonJS file because a sandboxed preload cannot load modules of its own.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { BRIDGE_GLOBAL, type Pix2RepBridge } from '../main/contract/bridge.js';
import { CHANNELS } from './channels.js';

const listeners = new Set<(message: string) => void>();

ipcRenderer.on(CHANNELS.event, (_event, message: unknown) => {
  if (typeof message !== 'string') return;
  for (const listener of [...listeners]) {
    try {
      listener(message);
    } catch (err) {
      // One broken listener must not starve the others of events.
      console.error('pix2rep: an event listener threw', err);
    }
  }
});

const bridge: Pix2RepBridge = {
  request(message: string): Promise<string> {
    if (typeof message !== 'string') return Promise.reject(new TypeError('pix2rep.request takes a JSON string'));
    return ipcRenderer.invoke(CHANNELS.request, message) as Promise<string>;
  },
  onEvent(listener: (message: string) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('pix2rep.onEvent takes a function');
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  openFolder(): Promise<string[]> {
    return ipcRenderer.invoke(CHANNELS.openFolder) as Promise<string[]>;
  },
  openFiles(filters?: { name: string; extensions: string[] }[]): Promise<string[]> {
    return ipcRenderer.invoke(CHANNELS.openFiles, filters) as Promise<string[]>;
  },
  shell: 'electron',
};

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, bridge);
