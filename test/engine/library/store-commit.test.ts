import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNifti, readNiftiFile, writeNifti } from '../../../main/io/nifti.js';
import { commitVolume, emptyTally } from '../../../main/library/import/commit.js';
import { dedupeVolume } from '../../../main/library/import/dedupe.js';
import { volumeSha256 } from '../../../main/library/import/hash.js';
import { annotatedSlices, labelGeometryMismatch, labelValueProblem, labelValues } from '../../../main/library/import/labels.js';
import { storeNifti, volumeFileName } from '../../../main/library/import/store.js';
import { openLibrary } from '../../../main/library/library.js';
import type { VolumeRecord } from '../../../main/library/catalog.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';
import { join } from 'node:path';

describe('label checks', () => {
  it('finds annotated slices per frame and the label values', () => {
    const img = tinyVolume({ frames: 2 });
    const lab = tinyLabels(img, [0, 2]);
    expect(annotatedSlices(lab)).toEqual([[0, 0], [0, 2], [1, 0], [1, 2]]);
    expect(labelValues(lab)).toEqual([1, 2, 3]);
    expect(labelValueProblem(lab)).toBeNull();
    expect(labelValueProblem({ ...lab, data: Float32Array.from([0, 1.5]) })).toMatch(/not a label \(1.5 at voxel 1\)/);
  });

  it('names both files and the difference when geometry does not match', () => {
    const img = tinyVolume();
    expect(labelGeometryMismatch(img, tinyLabels(img, [1]), '/a/img.nii', '/a/img_gt.nii')).toBeNull();
    const cropped = tinyVolume({ dims: [6, 5, 3] });
    expect(labelGeometryMismatch(img, cropped, '/a/img.nii', '/a/img_gt.nii')).toBe(
      'label map geometry does not match image img.nii (img_gt.nii: dims 6x5x3 vs 6x5x4)',
    );
    const shifted = { ...img, origin: [-10, 20.5, 4] as [number, number, number] };
    expect(labelGeometryMismatch(img, shifted, '/a/img.nii', '/a/l.nii')).toMatch(/origin -10,20.5,4 vs -10,20.5,3/);
  });
});

describe('dedupe, store and commit', () => {
  it('hashes content, not names: same voxels and geometry hash equal, one changed voxel does not', () => {
    const a = tinyVolume();
    const b = tinyVolume();
    expect(volumeSha256(a)).toBe(volumeSha256(b));
    b.data[3] = (b.data[3] as number) + 1;
    expect(volumeSha256(a)).not.toBe(volumeSha256(b));
    expect(volumeSha256({ ...a, spacing: [1.5, 1.25, 6] })).not.toBe(volumeSha256(a));
  });

  it('stores a readable compressed NIfTI, commits rows in one go, and sees the volume on the second pass', async () => {
    const lib = openLibrary(tempDir());
    const src = join(tempDir(), 'img.nii');
    const v = tinyVolume();
    await writeNifti(src, v);
    const file = await readNiftiFile(src);
    const dd = dedupeVolume(lib, file.volume);
    expect(dd.existingId).toBeNull();
    const stored = await storeNifti(lib, volumeFileName(dd.sha256), file.volume, file.header);
    expect(stored.rel).toMatch(/^volumes\/[0-9a-f]{32}\.nii\.gz$/);
    const back = await readNifti(lib.abs(stored.rel));
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    expect(back.origin).toEqual(file.volume.origin);

    const rec: VolumeRecord = {
      name: 'img', dims: v.dims, frames: 1, spacing: v.spacing, origin: v.origin, direction: v.direction, frameInterval: null,
      dtype: 'int16', contentSha256: dd.sha256, sourceSha256: null, sourcePaths: [src], sourceFormat: 'nifti', phase: null, storedPath: stored.rel, storedBytes: stored.bytes,
    };
    const who = {
      patient: { key: 'k', name: 'P' },
      study: { uid: 'st', date: null, description: '' },
      series: { uid: 'se', number: null, description: 'img', modality: '' },
    };
    const tally = emptyTally();
    const id = commitVolume(lib, tally, who, rec, []);
    expect(tally).toEqual({ studiesAdded: 1, seriesAdded: 1, volumesAdded: 1, annotationsAdded: 0, alreadyPresent: 0 });
    expect(dedupeVolume(lib, file.volume).existingId).toBe(id);
    // A racing importer committing the same content counts it as present and adds no rows.
    expect(commitVolume(lib, tally, who, rec, [])).toBe(id);
    expect(tally.alreadyPresent).toBe(1);
    expect(lib.catalog.counts()).toEqual({ patients: 1, studies: 1, series: 1, volumes: 1, annotations: 0 });
    expect(existsSync(lib.abs(stored.rel))).toBe(true);
    lib.close();
  });
});
