/**
 * Append-only text logs in the app's logs folder (Help → Open logs folder): main.log for the shell, engine.log
 * for what the engine process prints. A log bigger than 5 MB at start is rotated once to `.1`, so logs stay
 * small without a dependency. No electron import: the folder is passed in.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type LogLine = (line: string) => void;

const MAX_BYTES = 5 * 1024 * 1024;

export function openLog(dir: string, name: string, echo: NodeJS.WritableStream | null = process.stderr): LogLine {
  const file = join(dir, name);
  let writable = true;
  try {
    mkdirSync(dir, { recursive: true });
    if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > MAX_BYTES) renameSync(file, `${file}.1`);
  } catch {
    writable = false;
  }
  return (line: string) => {
    const stamped = `${new Date().toISOString()} ${line.replace(/\s+$/, '')}\n`;
    echo?.write(stamped);
    if (!writable) return;
    try {
      appendFileSync(file, stamped);
    } catch {
      // A full or read-only disk must not take the shell down with it; the echo above still shows the line.
      writable = false;
    }
  };
}
