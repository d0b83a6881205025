import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { readAnnotation, saveAnnotation } from '../../../main/library/annotations.js';
import { exportTarget } from '../../../main/library/export.js';
import { importPaths } from '../../../main/library/import/pipeline.js';
import { openLibrary } from '../../../main/library/library.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

describe('drawn and predicted annotations', () => {
  it('saves, edits and exports a manual annotation next to the imported one, in the volume geometry', async () => {
    const src = tempDir('src');
    const v = tinyVolume({ frames: 2, origin: [3, -4, 7.5] });
    await writeNifti(join(src, 'c.nii.gz'), v);
    await writeNifti(join(src, 'c_gt.nii.gz'), tinyLabels(v, [1]));
    const lib = openLibrary(tempDir());
    await importPaths(lib, { paths: [src] });
    const vol = lib.catalog.listStudies()[0]!.series[0]!.volumes[0]!;

    // A manual copy of the imported voxels is allowed (only re-imports are deduplicated).
    const same = tinyLabels(v, [1]).data as Uint8Array;
    const id = await saveAnnotation(lib, { volumeId: vol.id, data: same, source: 'manual' });
    expect(lib.catalog.annotatedSlices(id)).toEqual([[0, 1], [1, 1]]);

    const edited = new Uint8Array(same.length);
    edited[5 + 6 * 5 * 2] = 2; // frame 0, slice 2
    await saveAnnotation(lib, { volumeId: vol.id, data: edited, source: 'manual', annotationId: id });
    const row = lib.catalog.annotation(id)!;
    expect(lib.catalog.annotatedSlices(id)).toEqual([[0, 2]]);
    expect(row.labels).toEqual([{ value: 2, name: 'label 2', color: expect.any(String) }]);
    const back = await readAnnotation(lib, id);
    expect(Array.from(back.data)).toEqual(Array.from(edited));
    expect(back.origin).toEqual(v.origin);
    expect(lib.catalog.annotationsOf(vol.id).map((a) => a.source)).toEqual(['imported', 'manual']);

    const predicted = await saveAnnotation(lib, { volumeId: vol.id, data: same, source: 'predicted', modelId: null, name: 'model A' });
    const files = await exportTarget(lib, vol.id, tempDir('out'));
    expect(files.map((f) => f.path.split('/').pop())).toEqual(['c_gt.nii.gz', 'c_manual.nii.gz', 'c_predicted.nii.gz']);
    expect(files[2]!.annotationId).toBe(predicted);
    expect(lib.catalog.storedPaths().every((p) => existsSync(lib.abs(p)))).toBe(true);
    expect(readdirSync(lib.layout.annotations)).toHaveLength(3); // the pre-edit file is gone
    await expect(saveAnnotation(lib, { volumeId: vol.id, data: new Uint8Array(3), source: 'manual' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    lib.close();
  });
});
