/**
 * The shell's IPC surface: exactly the channels the preload uses. Every message's sender is checked (one of
 * our windows, its top frame, showing our own index.html) before anything is done with it.
 */
import { BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { ResponseEnvelope } from '../main/contract/index.js';
import { CHANNELS, MAX_REQUEST_BYTES } from './channels.js';
import { pickFiles, pickFolders } from './dialogs.js';
import type { LogLine } from './log.js';
import type { EngineSupervisor } from './supervisor.js';
import { checkFileFilters, isAppPageUrl } from './trust.js';

export interface IpcOptions {
  supervisor: EngineSupervisor;
  indexUrl: string;
  /** ids of the webContents of the windows the shell created. */
  appContents: () => Set<number>;
  log: LogLine;
}

export function isTrustedSender(event: IpcMainInvokeEvent, indexUrl: string, appContents: Set<number>): boolean {
  const frame = event.senderFrame;
  if (!frame) return false;
  if (!appContents.has(event.sender.id)) return false;
  // Only the top frame: the CSP forbids frames, and a frame that got in anyway must not reach the engine.
  if (frame.parent !== null) return false;
  return isAppPageUrl(frame.url, indexUrl);
}

export function registerIpc(opts: IpcOptions): void {
  const trusted = (event: IpcMainInvokeEvent, channel: string): boolean => {
    if (isTrustedSender(event, opts.indexUrl, opts.appContents())) return true;
    opts.log(`ipc: refused ${channel} from ${event.senderFrame?.url ?? 'a destroyed frame'}`);
    return false;
  };

  ipcMain.handle(CHANNELS.request, async (event, message: unknown): Promise<string> => {
    if (!trusted(event, CHANNELS.request)) return refusal(null, 'UNAUTHORIZED', 'this page may not talk to the engine');
    if (typeof message !== 'string') return refusal(null, 'BAD_REQUEST', 'a request must be a JSON string');
    if (message.length > MAX_REQUEST_BYTES) {
      return refusal(null, 'BAD_REQUEST', `request too large (${message.length} characters, limit ${MAX_REQUEST_BYTES})`);
    }
    return opts.supervisor.request(message);
  });

  ipcMain.handle(CHANNELS.openFolder, async (event): Promise<string[]> => {
    if (!trusted(event, CHANNELS.openFolder)) throw new Error('this page may not open dialogs');
    return pickFolders(BrowserWindow.fromWebContents(event.sender));
  });

  ipcMain.handle(CHANNELS.openFiles, async (event, filters: unknown): Promise<string[]> => {
    if (!trusted(event, CHANNELS.openFiles)) throw new Error('this page may not open dialogs');
    return pickFiles(BrowserWindow.fromWebContents(event.sender), checkFileFilters(filters));
  });
}

// Refusals carry no id: reading it would mean parsing a message from a sender we do not trust (or a huge one).
function refusal(id: null, code: 'UNAUTHORIZED' | 'BAD_REQUEST', text: string): string {
  const response: ResponseEnvelope = { id, ok: false, error: { code, message: text } };
  return JSON.stringify(response);
}
