/**
 * The Electron main process: thin by design. It owns the window, the menu, native dialogs and IPC routing,
 * and supervises the engine, which runs in its own utilityProcess. No domain logic lives here.
 *
 * Flags: --workspace DIR (else PIX2REP_WORKSPACE, else the per-user default). PIX2REP_USER_DATA moves
 * Electron's own profile (tests use it so that runs do not share a single-instance lock).
 */
import { BrowserWindow, Menu, app, dialog, nativeTheme, session, shell, type WebContents } from 'electron';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EventData, ImportReport, ResponseEnvelope } from '../main/contract/index.js';
import { workspaceFromArgv } from '../main/engine/process-protocol.js';
import { defaultWorkspaceDir } from '../main/library/workspace.js';
import { pickFiles, pickFolders } from './dialogs.js';
import { startEngineHost } from './engine-host.js';
import { hardenSession, installContentsHardening } from './harden.js';
import { startJobAwareness } from './job-awareness-host.js';
import { registerIpc } from './ipc.js';
import { openLog, type LogLine } from './log.js';
import { buildMenu } from './menu.js';
import { CHANNELS } from './channels.js';
import type { EngineSupervisor } from './supervisor.js';

const PRODUCT = 'Pix2Rep Workstation';
const BACKGROUND = '#0e1116';

// Built layout: dist/electron/main.js beside dist/electron/preload.cjs, dist/engine/, dist/renderer/.
const here = dirname(fileURLToPath(import.meta.url));
const paths = {
  preload: join(here, 'preload.cjs'),
  index: join(here, '..', 'renderer', 'index.html'),
  engine: join(here, '..', 'engine', 'process-entry.js'),
};
const indexUrl = pathToFileURL(paths.index).href;
const dev = !app.isPackaged;

app.setName(PRODUCT);
if (process.env.PIX2REP_USER_DATA) app.setPath('userData', resolve(process.env.PIX2REP_USER_DATA));
app.setAppLogsPath();
app.enableSandbox();
nativeTheme.themeSource = 'dark';

const log: LogLine = openLog(app.getPath('logs'), 'main.log');
const engineLog: LogLine = openLog(app.getPath('logs'), 'engine.log', null);

let workspace = '';
let workspaceError: string | undefined;
try {
  const arg = workspaceFromArgv(process.argv);
  workspace = arg ? resolve(arg) : defaultWorkspaceDir();
} catch (err) {
  workspaceError = err instanceof Error ? err.message : String(err);
}

const appContents = new Set<number>();
let mainWindow: BrowserWindow | null = null;
let supervisor: EngineSupervisor | null = null;
let shellRequests = 0;
let quitting = false;

if (!app.requestSingleInstanceLock()) {
  // Another window on the same profile already runs an engine; it is focused by its 'second-instance' handler.
  app.quit();
} else {
  app.on('second-instance', (_event, argv, workingDirectory) => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
    let asked: string | undefined;
    try {
      asked = workspaceFromArgv(argv);
    } catch {
      asked = undefined;
    }
    // A relative --workspace is relative to where the second launch was made, not to this process.
    if (asked && resolve(workingDirectory, asked) !== workspace) {
      void dialog.showMessageBox(mainWindow, {
        type: 'info',
        message: `${PRODUCT} is already running`,
        detail: `It uses the workspace ${workspace}. Close it first to open ${resolve(workingDirectory, asked)}.`,
      });
    }
  });
  installContentsHardening(indexUrl, log);
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (app.isReady() && BrowserWindow.getAllWindows().length === 0 && supervisor) createWindow();
  });
  app.on('before-quit', (event) => {
    if (quitting || !supervisor) return;
    // Let the engine finish: a running job checkpoints (one training step at most) and is resumed at the
    // next start. Past the grace period the engine is killed; its job worker still checkpoints on its own.
    event.preventDefault();
    quitting = true;
    void supervisor.stop(15_000).finally(() => app.quit());
  });
  app.whenReady().then(
    () => {
      try {
        start();
      } catch (err) {
        fatal(`${PRODUCT} failed to start`, err);
      }
    },
    (err: unknown) => fatal('Electron failed to start', err),
  );
}

function start(): void {
  if (workspaceError) return fatal('Bad command line', workspaceError);
  if (!existsSync(paths.index)) {
    return fatal('The user interface is not built', `Expected ${paths.index}. Run "npm run build" (or "npm start", which builds it) and start again.`);
  }
  if (!existsSync(paths.engine)) {
    return fatal('The engine is not built', `Expected ${paths.engine}. Run "npm run build:electron" and start again.`);
  }
  log(`starting ${PRODUCT} ${app.getVersion()} (Electron ${process.versions.electron}), workspace ${workspace}`);
  hardenSession(session.defaultSession, log);
  const jobs = startJobAwareness(log);
  app.on('will-quit', () => jobs.dispose());
  supervisor = startEngineHost({
    entry: paths.engine,
    workspace,
    targets: appWindows,
    log,
    engineLog,
    onEngineEvent: jobs.onEngineEvent,
    onCrashLoop: ({ crashes, lastExit }) => {
      void dialog
        .showMessageBox({
          type: 'error',
          message: 'The engine keeps stopping',
          detail: `It stopped ${crashes} times in a row (last: ${lastExit}). The app keeps restarting it; the logs folder has the details.`,
          buttons: ['Open Logs Folder', 'OK'],
          defaultId: 1,
        })
        .then(({ response }) => {
          if (response === 0) void shell.openPath(app.getPath('logs'));
        });
    },
  });
  registerIpc({ supervisor, indexUrl, appContents: () => appContents, log });
  Menu.setApplicationMenu(
    buildMenu({
      importFolder: () => void importFromMenu('folder'),
      importFiles: () => void importFromMenu('files'),
      about,
      openLogs: () => void shell.openPath(app.getPath('logs')),
      openWorkspace: () => {
        // The engine creates the workspace on first use; the folder may not exist yet on a fresh install.
        try {
          mkdirSync(workspace, { recursive: true });
        } catch (err) {
          notice('error', `Cannot create the workspace folder ${workspace}: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        void shell.openPath(workspace);
      },
      dev,
    }),
  );
  createWindow();
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: PRODUCT,
    backgroundColor: BACKGROUND,
    ...(dev && existsSync(join(app.getAppPath(), 'resources', 'icon.png')) ? { icon: join(app.getAppPath(), 'resources', 'icon.png') } : {}),
    webPreferences: {
      preload: paths.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: dev,
    },
  });
  const id = win.webContents.id;
  appContents.add(id);
  mainWindow = win;
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    appContents.delete(id);
    if (mainWindow === win) mainWindow = null;
  });
  win.webContents.on('render-process-gone', (_event, details) => {
    log(`window: renderer gone (${details.reason}, exit code ${details.exitCode})`);
    if (details.reason === 'clean-exit' || win.isDestroyed()) return;
    void dialog
      .showMessageBox(win, {
        type: 'error',
        message: 'The window stopped working',
        detail: `Its renderer process ended (${details.reason}). Your data is safe in the workspace; reload to continue.`,
        buttons: ['Reload', 'Close'],
        defaultId: 0,
      })
      .then(({ response }) => {
        if (win.isDestroyed()) return;
        if (response === 0) win.webContents.reload();
        else win.close();
      });
  });
  win.loadFile(paths.index).catch((err: unknown) => log(`window: could not load ${paths.index}: ${String(err)}`));
}

function appWindows(): WebContents[] {
  return BrowserWindow.getAllWindows()
    .map((w) => w.webContents)
    .filter((wc) => appContents.has(wc.id));
}

function notice(level: EventData<'engine.notice'>['level'], message: string): void {
  const text = JSON.stringify({ event: 'engine.notice', data: { level, message } });
  for (const wc of appWindows()) if (!wc.isDestroyed()) wc.send(CHANNELS.event, text);
}

/**
 * File → Import: the shell asks the engine directly. The window follows through the events every import
 * emits (request.progress, library.changed) and the notice that sums it up.
 */
async function importFromMenu(kind: 'folder' | 'files'): Promise<void> {
  if (!supervisor) return;
  const chosen = kind === 'folder' ? await pickFolders(mainWindow) : await pickFiles(mainWindow, undefined);
  if (chosen.length === 0) return;
  notice('info', `Importing ${chosen.length === 1 ? chosen[0] : `${chosen.length} items`}…`);
  const request = { id: `shell-import-${++shellRequests}`, method: 'library.import', params: { paths: chosen } };
  const response = JSON.parse(await supervisor.request(JSON.stringify(request))) as ResponseEnvelope;
  if (!response.ok) {
    notice('error', `Import failed: ${response.error.message}`);
    return;
  }
  const r = response.result as ImportReport;
  const parts = [`${r.studiesAdded} studies, ${r.seriesAdded} series, ${r.volumesAdded} volumes added`];
  if (r.alreadyPresent) parts.push(`${r.alreadyPresent} already in the library`);
  if (r.skipped.length) parts.push(`${r.skipped.length} files skipped (first: ${r.skipped[0]!.path}: ${r.skipped[0]!.reason})`);
  notice(r.skipped.length ? 'warning' : 'info', `Import finished: ${parts.join('; ')}.`);
}

function about(): void {
  const options = {
    type: 'info' as const,
    title: `About ${PRODUCT}`,
    message: `${PRODUCT} ${app.getVersion()}`,
    detail: [
      'Few-shot cardiac MRI segmentation with Pix2Rep self-supervised pretraining, on this machine only.',
      '',
      `Electron ${process.versions.electron} · Chromium ${process.versions.chrome} · Node ${process.versions.node}`,
      `Workspace: ${workspace}`,
      `Logs: ${app.getPath('logs')}`,
    ].join('\n'),
  };
  void (mainWindow ? dialog.showMessageBox(mainWindow, options) : dialog.showMessageBox(options));
}

function fatal(title: string, err: unknown): void {
  const detail = err instanceof Error ? err.message : String(err);
  log(`fatal: ${title}: ${detail}`);
  dialog.showErrorBox(title, detail);
  app.exit(1);
}
