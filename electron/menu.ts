/** The application menu: the usual entries, plus import and the logs folder. */
import { Menu, app, type MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  importFolder(): void;
  importFiles(): void;
  about(): void;
  openLogs(): void;
  openWorkspace(): void;
  /** DevTools and reload are for development builds only. */
  dev: boolean;
}

export function buildMenu(actions: MenuActions): Menu {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [];
  if (isMac) {
    template.push({
      label: app.name,
      submenu: [
        { label: `About ${app.name}`, click: actions.about },
        { type: 'separator' },
        { role: 'services' },
        { type: 'separator' },
        { role: 'hide' },
        { role: 'hideOthers' },
        { role: 'unhide' },
        { type: 'separator' },
        { role: 'quit' },
      ],
    });
  }
  template.push(
    {
      label: '&File',
      submenu: [
        { label: 'Import &Folder…', accelerator: 'CmdOrCtrl+O', click: actions.importFolder },
        { label: 'Import F&iles…', accelerator: 'CmdOrCtrl+Shift+O', click: actions.importFiles },
        { type: 'separator' },
        { label: 'Open &Workspace Folder', click: actions.openWorkspace },
        ...(isMac ? [] : [{ type: 'separator' } as const, { role: 'quit' } as const]),
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        ...(actions.dev
          ? [{ role: 'reload' } as const, { role: 'forceReload' } as const, { role: 'toggleDevTools' } as const, { type: 'separator' } as const]
          : []),
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        ...(isMac ? [] : [{ label: `&About ${app.name}`, click: actions.about }, { type: 'separator' } as const]),
        { label: 'Open &Logs Folder', click: actions.openLogs },
      ],
    },
  );
  return Menu.buildFromTemplate(template);
}
