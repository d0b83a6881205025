import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDicomSeries, scanDicom } from '../../../main/io/dicom/index.js';
import { readNifti } from '../../../main/io/nifti.js';
import { indexToPoint, type Vec3, type Volume } from '../../../main/io/volume.js';
import { importPaths } from '../../../main/library/import/pipeline.js';
import { openLibrary } from '../../../main/library/library.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir } from './helpers.js';

/** LPS → fractional voxel index of `v`. */
function toIndex(v: Volume, p: Vec3): Vec3 {
  const d = v.direction;
  const r = [p[0] - v.origin[0], p[1] - v.origin[1], p[2] - v.origin[2]];
  return [0, 1, 2].map((c) => (d[c]! * r[0]! + d[3 + c]! * r[1]! + d[6 + c]! * r[2]!) / v.spacing[c]!) as Vec3;
}

describe.skipIf(!hasData('dicom'))('DICOM import into the library', () => {
  it('a 150-file cine-like series becomes one stored volume with the reader\'s geometry and voxels, matching dcm2niix', async () => {
    const src = dataPath('dicom/mr-series/ge-epi-15slices-10vols');
    const lib = openLibrary(tempDir());
    const r = await importPaths(lib, { paths: [src] });
    expect(r).toMatchObject({ studiesAdded: 1, seriesAdded: 1, volumesAdded: 1 });
    expect(r.skipped.map((s) => s.path)).toEqual([join(src, 'README-Series.txt')]);
    const [study] = lib.catalog.listStudies();
    expect(study!.patientName).toBe('Test Regression');
    const se = study!.series[0]!;
    expect([se.modality, se.description]).toEqual(['MR', 'Axial EPI-FMRI (Sequential S to I)']);
    const row = lib.catalog.volume(se.volumes[0]!.id)!;
    expect(row.sourcePaths).toHaveLength(150);
    const stored = await readNifti(lib.abs(row.storedPath));

    const scan = await scanDicom(src);
    const direct = await readDicomSeries(scan.series[0]!);
    expect([stored.dims, stored.frames]).toEqual([direct.dims, direct.frames]);
    stored.spacing.forEach((s, i) => expect(s).toBeCloseTo(direct.spacing[i]!, 4));
    stored.origin.forEach((s, i) => expect(s).toBeCloseTo(direct.origin[i]!, 3));
    stored.direction.forEach((s, i) => expect(s).toBeCloseTo(direct.direction[i]!, 5));
    expect(stored.data).toEqual(direct.data);

    // Against dcm2niix: same grid size, and every corner voxel centre of the reference is one of ours.
    const ref = await readNifti(dataPath('dicom/mr-series/ge-epi-15slices-10vols.dcm2niix-ref/DCM2NIIX_regression_test_7.nii'));
    expect([stored.dims, stored.frames]).toEqual([ref.dims, ref.frames]);
    const [X, Y, Z] = ref.dims;
    for (const ijk of [[0, 0, 0], [X - 1, 0, 0], [0, Y - 1, 0], [0, 0, Z - 1], [X - 1, Y - 1, Z - 1]] as Vec3[]) {
      const q = toIndex(stored, indexToPoint(ref, ijk));
      q.forEach((x, a) => {
        expect(Math.abs(x - Math.round(x))).toBeLessThan(1e-2);
        expect(Math.round(x)).toBeGreaterThanOrEqual(0);
        expect(Math.round(x)).toBeLessThan(stored.dims[a]!);
      });
    }

    const again = await importPaths(lib, { paths: [src] });
    expect(again).toMatchObject({ volumesAdded: 0, alreadyPresent: 1 });
    lib.close();
  });

  it('every file of malformed/ is either imported or reported with a reason; nothing throws', async () => {
    const dir = dataPath('dicom/malformed');
    const lib = openLibrary(tempDir());
    const r = await importPaths(lib, { paths: [dir] });
    const imported = new Set(
      (lib.db.prepare('SELECT source_paths FROM volumes').all() as Array<{ source_paths: string }>).flatMap((v) => JSON.parse(v.source_paths) as string[]),
    );
    const skipped = new Map(r.skipped.map((s) => [s.path, s.reason]));
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      expect(imported.has(p) || skipped.has(p), `${name} neither imported nor reported`).toBe(true);
      if (skipped.has(p)) expect(skipped.get(p)!.length).toBeGreaterThan(5);
    }
    expect(skipped.get(join(dir, 'empty-zero-bytes.dcm'))).toBe('empty file (0 bytes)');
    expect(skipped.get(join(dir, 'MR_truncated.dcm'))).toMatch(/truncated/i);
    lib.close();
  });
});
