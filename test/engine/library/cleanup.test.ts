import { spawnSync } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempOwner } from '../../../main/library/atomic.js';
import { openLibrary } from '../../../main/library/library.js';
import { tempDir } from './helpers.js';

/** The pid of a process that has exited (so certainly not writing anything). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('workspace cleanup on open', () => {
  it('recognises both temp-file spellings', () => {
    expect(tempOwner('.tmp-1234-ab12cd34-x.nii.gz')).toBe(1234);
    expect(tempOwner('.0123abcd.nii.gz.5678.9f8e7d6c.tmp')).toBe(5678);
    expect(tempOwner('0123abcd.nii.gz')).toBeNull();
  });

  it('removes temp files of dead writers and old unreferenced files, keeps live temps and fresh files', () => {
    const ws = tempDir('ws');
    openLibrary(ws).close();
    const dead = deadPid();
    const v = (n: string) => join(ws, 'volumes', n);
    writeFileSync(v(`.tmp-${dead}-00000000-a.nii.gz`), 'half');
    writeFileSync(v(`.b.nii.gz.${dead}.0a0b0c0d.tmp`), 'half');
    writeFileSync(v(`.tmp-${process.pid}-00000000-c.nii.gz`), 'being written');
    writeFileSync(v('old-orphan.nii.gz'), 'renamed, never committed');
    utimesSync(v('old-orphan.nii.gz'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    writeFileSync(v('fresh.nii.gz'), 'another importer is about to commit this');
    openLibrary(ws).close();
    expect(existsSync(v(`.tmp-${dead}-00000000-a.nii.gz`))).toBe(false);
    expect(existsSync(v(`.b.nii.gz.${dead}.0a0b0c0d.tmp`))).toBe(false);
    expect(existsSync(v(`.tmp-${process.pid}-00000000-c.nii.gz`))).toBe(true);
    expect(existsSync(v('old-orphan.nii.gz'))).toBe(false);
    expect(existsSync(v('fresh.nii.gz'))).toBe(true);
  });
});
