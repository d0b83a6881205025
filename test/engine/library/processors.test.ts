import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { classifyBytes, classifyFile } from '../../../main/library/import/classify.js';
import { globCapture, globToRegExp } from '../../../main/library/import/glob.js';
import { niftiIdentity, parseInfoCfg } from '../../../main/library/import/identity.js';
import { pairLabelMaps } from '../../../main/library/import/pair.js';
import { walkPaths } from '../../../main/library/import/walk.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir, tinyVolume } from './helpers.js';

describe('walk', () => {
  it('lists files recursively, sorted, once each, and reports missing paths', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'b', 'c'), { recursive: true });
    writeFileSync(join(d, 'b', 'c', 'z.txt'), 'z');
    writeFileSync(join(d, 'a.txt'), 'a');
    symlinkSync(join(d, 'b'), join(d, 'b', 'c', 'loop'));
    const r = await walkPaths([d, join(d, 'a.txt'), join(d, 'missing')]);
    expect(r.files).toEqual([join(d, 'a.txt'), join(d, 'b', 'c', 'z.txt')]);
    expect(r.issues).toEqual([{ path: join(d, 'missing'), reason: 'no such file or folder' }]);
  });

  it('stops when aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(walkPaths([tempDir()], ctl.signal)).rejects.toThrow();
  });
});

describe('classify', () => {
  it('recognises NIfTI by header (plain and gzip, whatever the name) and skips others with a reason', async () => {
    const d = tempDir();
    const v = tinyVolume();
    await writeNifti(join(d, 'a.nii'), v);
    await writeNifti(join(d, 'b.nii.gz'), v);
    writeFileSync(join(d, 'renamed.bin'), readFileSync(join(d, 'b.nii.gz')));
    writeFileSync(join(d, 'empty.nii.gz'), '');
    writeFileSync(join(d, 'notes.txt'), 'hello world, not an image');
    writeFileSync(join(d, 'short.nii.gz'), readFileSync(join(d, 'b.nii.gz')).subarray(0, 12));
    writeFileSync(join(d, 'other.gz'), gzipSync(Buffer.from('just text')));
    writeFileSync(join(d, 'Info.cfg'), 'ED: 1\nES: 12\n');
    const kinds = Object.fromEntries(
      await Promise.all(['a.nii', 'b.nii.gz', 'renamed.bin', 'empty.nii.gz', 'notes.txt', 'short.nii.gz', 'other.gz', 'Info.cfg'].map(async (n) => {
        const c = await classifyFile(join(d, n));
        return [n, c.kind === 'skip' ? `skip: ${c.reason}` : c.kind];
      })),
    );
    expect(kinds).toEqual({
      'a.nii': 'nifti',
      'b.nii.gz': 'nifti',
      'renamed.bin': 'nifti',
      'empty.nii.gz': 'skip: empty file (0 bytes)',
      'notes.txt': 'skip: not a DICOM or NIfTI file',
      'short.nii.gz': 'skip: too short for a NIfTI header: 0 bytes after decompression',
      'other.gz': 'skip: gzip-compressed file that is not NIfTI',
      'Info.cfg': 'sidecar',
    });
  });

  it('recognises DICOM with and without the Part 10 preamble', () => {
    const part10 = Buffer.alloc(200);
    part10.write('DICM', 128, 'latin1');
    expect(classifyBytes('/x/1', part10, 200).kind).toBe('dicom');
    const raw = Buffer.alloc(16);
    raw.writeUInt16LE(0x0008, 0);
    raw.writeUInt16LE(0x0016, 2);
    raw.write('UI', 4, 'latin1');
    expect(classifyBytes('/x/2', raw, 16).kind).toBe('dicom');
    expect(classifyBytes('/x/3.dcm', Buffer.from('GIF89a......'), 12)).toEqual({
      path: '/x/3.dcm',
      kind: 'skip',
      reason: 'not a DICOM file (no DICM marker and no valid first element)',
    });
  });

  it.skipIf(!hasData('dicom'))('classifies real DICOM files as dicom', async () => {
    expect((await classifyFile(dataPath('dicom/compressed/mr-small-pydicom/MR_small.dcm'))).kind).toBe('dicom');
    expect((await classifyFile(dataPath('dicom/malformed/empty-zero-bytes.dcm'))).kind).toBe('skip');
  });
});

describe('label globs and pairing', () => {
  it('captures what the wildcards matched', () => {
    expect(globCapture(globToRegExp('*_gt.nii.gz'), 'patient001_frame01_gt.nii.gz')).toBe('patient001_frame01');
    expect(globCapture(globToRegExp('*_gt.nii.gz'), 'patient001_frame01.nii.gz')).toBeNull();
    expect(globCapture(globToRegExp('seg_?[0-9].nii'), 'seg_a7.nii')).toBe('a7');
    expect(globCapture(globToRegExp('x.nii'), 'xanii')).toBeNull();
  });

  it('pairs ACDC label maps with their images by default, reports orphans and ambiguity', () => {
    const files = [
      '/d/p1/p1_frame01.nii.gz',
      '/d/p1/p1_frame01_gt.nii.gz',
      '/d/p1/p1_frame12.nii.gz',
      '/d/p1/p1_frame12_gt.nii.gz',
      '/d/p1/p1_4d.nii.gz',
      '/d/p1/lonely_gt.nii.gz',
    ];
    const p = pairLabelMaps(files);
    expect(p.images).toEqual(['/d/p1/p1_frame01.nii.gz', '/d/p1/p1_frame12.nii.gz', '/d/p1/p1_4d.nii.gz']);
    expect([...p.labelOf]).toEqual([
      ['/d/p1/p1_frame01.nii.gz', '/d/p1/p1_frame01_gt.nii.gz'],
      ['/d/p1/p1_frame12.nii.gz', '/d/p1/p1_frame12_gt.nii.gz'],
    ]);
    expect(p.issues).toEqual([{ path: '/d/p1/lonely_gt.nii.gz', reason: 'label map has no matching image (looked for lonely.nii or lonely.nii.gz)' }]);
  });

  it('pairs with a user pattern across folders (imagesTr/labelsTr) and prefers the same folder', () => {
    const p = pairLabelMaps(['/d/img/case1.nii.gz', '/d/lab/case1_seg.nii', '/d/img/case2.nii.gz', '/d/img/case2_seg.nii', '/d/other/case2.nii.gz'], '*_seg.nii');
    expect(p.labelOf.get('/d/img/case1.nii.gz')).toBe('/d/lab/case1_seg.nii');
    expect(p.labelOf.get('/d/img/case2.nii.gz')).toBe('/d/img/case2_seg.nii');
    expect(p.issues).toEqual([]);
    const amb = pairLabelMaps(['/a/c.nii', '/b/c.nii', '/l/c_seg.nii'], '*_seg.nii');
    expect(amb.issues[0]!.reason).toMatch(/matches 2 images/);
  });
});

describe('identity', () => {
  it('parses Info.cfg', () => {
    expect(parseInfoCfg('ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\n')).toEqual({ ed: 1, es: 12, group: 'DCM' });
    expect(parseInfoCfg('garbage')).toEqual({ ed: null, es: null, group: null });
  });

  it('gives ACDC files patient, study, one cine series and the phase', () => {
    const cfg = (p: string) => (p === '/d/patient007/Info.cfg' ? 'ED: 1\nES: 7\nGroup: DCM\n' : null);
    const ed = niftiIdentity('/d/patient007/patient007_frame01.nii.gz', cfg);
    const es = niftiIdentity('/d/patient007/patient007_frame07.nii.gz', cfg);
    const cine = niftiIdentity('/d/patient007/patient007_4d.nii.gz', cfg);
    expect(ed.patient).toEqual({ key: 'acdc:patient007', name: 'patient007' });
    expect(ed.study).toEqual({ uid: 'acdc:patient007', date: null, description: 'ACDC DCM' });
    expect(ed.series.uid).toBe(es.series.uid);
    expect([ed.phase, es.phase, cine.phase]).toEqual(['ED', 'ES', null]);
    expect(cine.volumeName).toBe('patient007_4d');
  });

  it('uses the parent folder for plain NIfTI and keeps same-named folders apart', () => {
    const a = niftiIdentity('/x/subjA/brain.nii', () => null);
    const b = niftiIdentity('/y/subjA/brain.nii', () => null);
    expect(a.patient.name).toBe('subjA');
    expect(a.study.uid).not.toBe(b.study.uid);
    expect(a.phase).toBeNull();
  });
});
