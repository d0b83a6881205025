import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNiftiFile } from '../../../main/io/nifti.js';
import { exportTarget } from '../../../main/library/export.js';
import { importPaths } from '../../../main/library/import/pipeline.js';
import { openLibrary } from '../../../main/library/library.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir } from './helpers.js';

const ACDC = dataPath('acdc/training');

/** Slices with any label, counted from the original `_gt` file (the reference for the catalogue). */
async function labelledSlices(path: string): Promise<number> {
  const { volume } = await readNiftiFile(path);
  const [ni, nj, nk] = volume.dims;
  let n = 0;
  for (let k = 0; k < nk; k++) if (volume.data.subarray(k * ni * nj, (k + 1) * ni * nj).some((x) => x !== 0)) n++;
  return n;
}

describe.skipIf(!hasData('acdc'))('ACDC import', () => {
  it('a subset (3 patients + the 4D cine) gives patients, phases and annotations as in the files', async () => {
    const lib = openLibrary(tempDir());
    const paths = ['patient001', 'patient045', 'patient090'].map((p) => join(ACDC, p));
    const r = await importPaths(lib, { paths, labels: '*_gt.nii.gz' });
    expect(r).toMatchObject({ studiesAdded: 3, seriesAdded: 3, volumesAdded: 7, annotationsAdded: 6, alreadyPresent: 0 });
    expect(r.skipped.map((s) => s.reason)).toEqual(Array(3).fill('not a DICOM or NIfTI file')); // MANDATORY_CITATION.md
    const studies = lib.catalog.listStudies();
    expect(studies.map((s) => [s.patientName, s.description])).toEqual([
      ['patient001', 'ACDC DCM'],
      ['patient045', 'ACDC MINF'],
      ['patient090', 'ACDC RV'],
    ]);
    const p090 = studies[2]!.series[0]!.volumes;
    expect(p090.map((v) => [v.name, v.phase, v.frames, v.dims.join('x'), v.annotations.length])).toEqual([
      ['patient090_4d', null, 12, '154x224x7', 0],
      ['patient090_frame04', 'ED', 1, '154x224x7', 1],
      ['patient090_frame11', 'ES', 1, '154x224x7', 1],
    ]);
    const p001 = studies[0]!.series[0]!.volumes;
    expect(p001.map((v) => [v.name, v.phase])).toEqual([['patient001_frame01', 'ED'], ['patient001_frame12', 'ES']]);
    for (const v of p001) {
      expect(v.spacing.map((s) => +s.toFixed(4))).toEqual([1.5625, 1.5625, 10]);
      expect(v.annotations[0]!.annotatedSlices).toBe(await labelledSlices(join(ACDC, 'patient001', `${v.name}_gt.nii.gz`)));
      expect(v.annotations[0]!.source).toBe('imported');
      expect(lib.catalog.annotation(v.annotations[0]!.id)!.labels.map((l) => [l.value, l.name])).toEqual([
        [1, 'RV cavity'],
        [2, 'LV myocardium'],
        [3, 'LV cavity'],
      ]);
    }
    lib.close();
  });

  it('export round trip: an imported _gt comes back voxel for voxel and affine for affine', async () => {
    const lib = openLibrary(tempDir());
    await importPaths(lib, { paths: [join(ACDC, 'patient045')], labels: '*_gt.nii.gz' });
    const out = tempDir('out');
    const files = await exportTarget(lib, 'patient045', out);
    expect(files.map((f) => f.path.slice(out.length + 1))).toEqual(['patient045_frame01_gt.nii.gz', 'patient045_frame13_gt.nii.gz']);
    for (const f of files) {
      const name = f.path.slice(out.length + 1);
      const orig = await readNiftiFile(join(ACDC, 'patient045', name));
      const back = await readNiftiFile(f.path);
      expect(back.volume.dims).toEqual(orig.volume.dims);
      expect(back.header.srow).toEqual(orig.header.srow);
      expect([back.header.quatern, back.header.qoffset, back.header.pixdim]).toEqual([orig.header.quatern, orig.header.qoffset, orig.header.pixdim]);
      expect([back.header.qformCode, back.header.sformCode]).toEqual([orig.header.qformCode, orig.header.sformCode]);
      expect(back.volume.data).toEqual(orig.volume.data);
      // Stronger than the above: the uncompressed files are identical byte for byte.
      expect(gunzipSync(readFileSync(f.path)).equals(gunzipSync(readFileSync(join(ACDC, 'patient045', name))))).toBe(true);
    }
    // A volume id exports only its own annotation.
    const vol = lib.catalog.listStudies()[0]!.series[0]!.volumes[0]!;
    expect((await exportTarget(lib, vol.id, tempDir('out'))).map((f) => f.volumeId)).toEqual([vol.id]);
    await expect(exportTarget(lib, 'patient999', out)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    lib.close();
  });

  // The acceptance run. Measured here: 7–34 s for the first run, 4–8 s for the second, depending on how busy the
  // shared 2-core machine is; the slowest library test with the CLI kill test.
  it('full import: 50 patients, 100 images + 100 label maps + the 4D cine; a second run adds nothing', async () => {
    const lib = openLibrary(tempDir());
    const r1 = await importPaths(lib, { paths: [dataPath('acdc')], labels: '*_gt.nii.gz' });
    expect(r1).toMatchObject({ studiesAdded: 50, seriesAdded: 50, volumesAdded: 101, annotationsAdded: 100, alreadyPresent: 0 });
    // Only the non-image files are skipped: 50 MANDATORY_CITATION.md, the top-level one, the manifest.
    expect(r1.skipped.every((s) => /MANDATORY_CITATION\.md$|manifest\.tsv$/.test(s.path))).toBe(true);
    const counts = lib.catalog.counts();
    expect(counts).toEqual({ patients: 50, studies: 50, series: 50, volumes: 101, annotations: 100 });
    const phases = lib.db.prepare('SELECT phase, COUNT(*) AS n FROM volumes GROUP BY phase ORDER BY phase').all();
    expect(phases).toEqual([{ phase: null, n: 1 }, { phase: 'ED', n: 50 }, { phase: 'ES', n: 50 }]);
    expect(readdirSync(lib.layout.volumes).length).toBe(101);
    expect(readdirSync(lib.layout.annotations).length).toBe(100);

    const r2 = await importPaths(lib, { paths: [dataPath('acdc')], labels: '*_gt.nii.gz' });
    expect(r2).toMatchObject({ studiesAdded: 0, seriesAdded: 0, volumesAdded: 0, annotationsAdded: 0, alreadyPresent: 101 });
    expect(lib.catalog.counts()).toEqual(counts);
    console.log(`ACDC full import: ${r1.filesScanned} files, first run ${r1.seconds.toFixed(1)} s, second run ${r2.seconds.toFixed(1)} s`);
    lib.close();
  });
});
