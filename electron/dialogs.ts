/** Native open dialogs. They resolve with absolute paths, or [] when the user cancels. */
import { dialog, type BrowserWindow, type OpenDialogOptions } from 'electron';
import type { FileFilter } from './trust.js';

/** What the library imports: DICOM series come as folders, NIfTI as files. */
export const IMPORT_FILTERS: FileFilter[] = [
  { name: 'Medical images (NIfTI, DICOM)', extensions: ['nii', 'nii.gz', 'gz', 'dcm', 'ima'] },
  { name: 'All files', extensions: ['*'] },
];

export async function pickFolders(win: BrowserWindow | null): Promise<string[]> {
  return show(win, {
    title: 'Import folder',
    buttonLabel: 'Import',
    properties: ['openDirectory', 'multiSelections', 'dontAddToRecent'],
  });
}

export async function pickFiles(win: BrowserWindow | null, filters: FileFilter[] | undefined): Promise<string[]> {
  return show(win, {
    title: 'Import files',
    buttonLabel: 'Import',
    properties: ['openFile', 'multiSelections', 'dontAddToRecent'],
    filters: filters ?? IMPORT_FILTERS,
  });
}

async function show(win: BrowserWindow | null, options: OpenDialogOptions): Promise<string[]> {
  const r = win && !win.isDestroyed() ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return r.canceled ? [] : r.filePaths;
}
