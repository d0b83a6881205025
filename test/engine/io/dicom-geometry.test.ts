import { describe, expect, it } from 'vitest';
import { readDicomSeries, scanDicom, type DicomSeriesInfo } from '../../../main/io/dicom/index.js';
import { readNifti } from '../../../main/io/nifti.js';
import { indexToPoint, type Vec3, type Volume } from '../../../main/io/volume.js';
import { dataPath, hasData } from '../../support/data.js';

/**
 * The importer's volumes against dcm2niix's NIfTI output for the same DICOM files. dcm2niix flips rows
 * (and sometimes columns) to suit NIfTI, so grids are compared in LPS space: every reference voxel centre
 * must land on a voxel centre of ours (within 0.01 mm) holding the same value.
 */
interface Mapping {
  /** Our voxel index for reference voxel (i, j, k). */
  map: (i: number, j: number, k: number) => Vec3;
}

function inverse(v: Volume): (p: Vec3) => Vec3 {
  const d = v.direction;
  return (p) => {
    const r = [p[0] - v.origin[0], p[1] - v.origin[1], p[2] - v.origin[2]];
    return [0, 1, 2].map((c) => (d[c]! * r[0]! + d[3 + c]! * r[1]! + d[6 + c]! * r[2]!) / v.spacing[c]!) as Vec3;
  };
}

function expectSameGrid(ours: Volume, ref: Volume): Mapping {
  expect(ours.dims).toEqual(ref.dims);
  expect(ours.frames).toBe(ref.frames);
  ours.spacing.forEach((s, a) => expect(s).toBeCloseTo(ref.spacing[a]!, 3));
  // Each axis is the reference's axis or its reverse.
  for (let c = 0; c < 3; c++) {
    const col = (m: Volume) => [m.direction[c]!, m.direction[3 + c]!, m.direction[6 + c]!];
    const a = col(ours);
    const b = col(ref);
    const sign = Math.sign(a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!);
    a.forEach((x, r) => expect(Math.abs(x - sign * b[r]!)).toBeLessThan(1e-4));
  }
  const inv = inverse(ours);
  const [X, Y, Z] = ref.dims;
  for (const i of [0, X - 1]) {
    for (const j of [0, Y - 1]) {
      for (const k of [0, Z - 1]) {
        const p = indexToPoint(ref, [i, j, k]);
        const q = inv(p).map(Math.round) as Vec3;
        q.forEach((x, a) => expect(x >= 0 && x < ours.dims[a]!, `corner ${[i, j, k]} outside our grid`).toBe(true));
        const back = indexToPoint(ours, q);
        back.forEach((x, a) => expect(Math.abs(x - p[a]!)).toBeLessThan(1e-2));
      }
    }
  }
  return { map: (i, j, k) => inv(indexToPoint(ref, [i, j, k])).map(Math.round) as Vec3 };
}

/**
 * Every voxel of every frame: ref = scale * ours within `tol` (absolute when scale is 1, relative to the
 * reference value otherwise).
 */
function expectSameVoxels(ours: Volume, ref: Volume, m: Mapping, tol = 0, scale = 1): number {
  const [X, Y, Z] = ref.dims;
  const [x, y, z] = ours.dims;
  let worst = 0;
  for (let k = 0; k < Z; k++) {
    for (let j = 0; j < Y; j++) {
      for (let i = 0; i < X; i++) {
        const [a, b, c] = m.map(i, j, k);
        for (let t = 0; t < ref.frames; t++) {
          const r = ref.data[((t * Z + k) * Y + j) * X + i]!;
          const o = ours.data[((t * z + c) * y + b) * x + a]!;
          const diff = Math.abs(r - scale * o);
          worst = Math.max(worst, scale === 1 ? diff : diff / Math.max(1, Math.abs(r)));
        }
      }
    }
  }
  expect(worst).toBeLessThanOrEqual(tol);
  return worst;
}

async function only(path: string, part?: string): Promise<DicomSeriesInfo> {
  const r = await scanDicom(dataPath('dicom', path));
  const list = part ? r.series.filter((s) => s.part.startsWith(part)) : r.series;
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe.skipIf(!hasData('dicom'))('DICOM geometry against dcm2niix references', () => {
  it('GE EPI: 150 files -> 64x64x15 x 10 frames, slice and frame order identical', async () => {
    const ours = await readDicomSeries(await only('mr-series/ge-epi-15slices-10vols'));
    const ref = await readNifti(dataPath('dicom/mr-series/ge-epi-15slices-10vols.dcm2niix-ref/DCM2NIIX_regression_test_7.nii'));
    expect(ours.data).toBeInstanceOf(Int16Array);
    expectSameVoxels(ours, ref, expectSameGrid(ours, ref));
  });

  it('Siemens XA10 Enhanced MR: 4 files x 6 frames -> 64x64x6 x 4 frames', async () => {
    const ours = await readDicomSeries(await only('enhanced/siemens-xa10-fmri'));
    const ref = await readNifti(dataPath('dicom/enhanced/dcm2niix-ref/Siemens_REST1_w_SMS_PF7-8_6.nii'));
    expectSameVoxels(ours, ref, expectSameGrid(ours, ref));
  });

  it('Siemens mosaic EPI: two 216x216 mosaics -> 72x72x5 x 2 frames', async () => {
    const ours = await readDicomSeries(await only('mr-series/siemens-mosaic-epi'));
    const ref = await readNifti(dataPath('dicom/mr-series/siemens-mosaic-epi.dcm2niix-ref/EPI_PE=AP_3.nii'));
    expectSameVoxels(ours, ref, expectSameGrid(ours, ref));
  });

  it('Siemens oblique mosaic (35 tiles, CSA slice normal): 64x64x35', async () => {
    const ours = await readDicomSeries(await only('compressed/siemens-mr-same-image-9-syntaxes/1.dcm'));
    const ref = await readNifti(dataPath('dicom/compressed/siemens-mr-same-image-9-syntaxes.dcm2niix-ref/1.nii'));
    expectSameVoxels(ours, ref, expectSameGrid(ours, ref));
  });

  it('Philips Enhanced B0 map: field map in Hz with per-frame rescale; magnitude proportional to dcm2niix', async () => {
    const path = 'enhanced/philips-IM_0027_fMAP.dcm';
    const map = await readDicomSeries(await only(path, 'T1\\FIELD_MAP'));
    const refMap = await readNifti(dataPath('dicom/enhanced/dcm2niix-ref/Philips_WIP_B0_NS_801_e2_fieldmaphz.nii'));
    // Float32 rounding of slope 0.2442 x stored + (-500).
    expectSameVoxels(map, refMap, expectSameGrid(map, refMap), 1e-2);
    // dcm2niix writes Philips "floating point" values (stored / (ScaleSlope x RescaleSlope)); we keep the
    // standard DICOM rescale. Same grid, values proportional with 1 / (8.44864e-6 x 1.27985) = 92481.
    const mag = await readDicomSeries(await only(path, 'T1\\M'));
    const refMag = await readNifti(dataPath('dicom/enhanced/dcm2niix-ref/Philips_WIP_B0_NS_801_e1.nii'));
    expectSameVoxels(mag, refMag, expectSameGrid(mag, refMag), 1e-4, 1 / (8.44864e-6 * 1.27985));
  });
});
