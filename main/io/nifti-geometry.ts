/**
 * NIfTI geometry <-> the LPS Volume model.
 *
 * NIfTI affines map voxel indices to RAS millimetres; the Volume model is LPS (see volume.ts), so every
 * conversion flips the sign of the first two rows. A 3x4 affine here is row-major: [r0c0, r0c1, r0c2, r0c3, r1c0, ...].
 */
import type { Mat3, Vec3 } from './volume.js';

export interface LpsGeometry {
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

/** Rotation matrix (row-major) of the unit quaternion (a, b, c, d) with a derived from b, c, d. */
export function quaternionToRotation(b: number, c: number, d: number): Mat3 {
  let a2 = 1 - (b * b + c * c + d * d);
  let [qb, qc, qd] = [b, c, d];
  if (a2 < 1e-7) {
    // b, c, d already (nearly) unit: a 180-degree rotation; renormalise so the matrix stays orthonormal.
    const n = Math.hypot(b, c, d) || 1;
    [qb, qc, qd] = [b / n, c / n, d / n];
    a2 = 0;
  }
  const a = Math.sqrt(a2);
  return [
    a * a + qb * qb - qc * qc - qd * qd, 2 * (qb * qc - a * qd), 2 * (qb * qd + a * qc),
    2 * (qb * qc + a * qd), a * a + qc * qc - qb * qb - qd * qd, 2 * (qc * qd - a * qb),
    2 * (qb * qd - a * qc), 2 * (qc * qd + a * qb), a * a + qd * qd - qc * qc - qb * qb,
  ];
}

/**
 * Quaternion (b, c, d) and qfac of an orthonormal rotation-or-reflection R (row-major). A reflection is
 * encoded NIfTI's way: qfac = -1 and the third column negated before extracting the rotation.
 */
export function rotationToQuaternion(m: Mat3): { b: number; c: number; d: number; qfac: 1 | -1 } {
  const r = [...m] as Mat3;
  const qfac: 1 | -1 = det3(r) < 0 ? -1 : 1;
  if (qfac < 0) {
    r[2] = -r[2];
    r[5] = -r[5];
    r[8] = -r[8];
  }
  const [r00, r01, r02, r10, r11, r12, r20, r21, r22] = r;
  let a: number, b: number, c: number, d: number;
  const trace = 1 + r00 + r11 + r22;
  if (trace > 0.5) {
    a = 0.5 * Math.sqrt(trace);
    b = (r21 - r12) / (4 * a);
    c = (r02 - r20) / (4 * a);
    d = (r10 - r01) / (4 * a);
  } else {
    // Small trace: pick the largest diagonal term to keep the division well conditioned.
    const xd = 1 + r00 - r11 - r22;
    const yd = 1 + r11 - r00 - r22;
    const zd = 1 + r22 - r00 - r11;
    if (xd >= yd && xd >= zd) {
      b = 0.5 * Math.sqrt(xd);
      c = (r01 + r10) / (4 * b);
      d = (r02 + r20) / (4 * b);
      a = (r21 - r12) / (4 * b);
    } else if (yd >= zd) {
      c = 0.5 * Math.sqrt(yd);
      b = (r01 + r10) / (4 * c);
      d = (r12 + r21) / (4 * c);
      a = (r02 - r20) / (4 * c);
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (r02 + r20) / (4 * d);
      c = (r12 + r21) / (4 * d);
      a = (r10 - r01) / (4 * d);
    }
    // NIfTI stores only b, c, d and assumes a >= 0; q and -q are the same rotation.
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

export function det3(m: Mat3): number {
  return (
    m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
  );
}

/** Largest |DᵀD - I| entry: 0 for an orthonormal direction matrix. */
export function orthonormalityError(m: Mat3): number {
  let worst = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const dot = m[i]! * m[j]! + m[3 + i]! * m[3 + j]! + m[6 + i]! * m[6 + j]!;
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

/** Column norms of the 3x3 part of a 3x4 affine. */
export function columnNorms(affine: readonly number[]): Vec3 {
  return [0, 1, 2].map((c) => Math.hypot(affine[c]!, affine[4 + c]!, affine[8 + c]!)) as Vec3;
}

/**
 * Splits a RAS 3x4 affine into LPS geometry. `spacing` gives the voxel size per axis; the direction is the
 * affine's normalised columns (kept as they are even when not orthogonal, so a sheared sform is not silently
 * squared up).
 */
export function rasAffineToLps(affine: readonly number[], spacing: Vec3): LpsGeometry {
  const norms = columnNorms(affine);
  const direction = [0, 0, 0, 0, 0, 0, 0, 0, 0] as Mat3;
  for (let r = 0; r < 3; r++) {
    const flip = r < 2 ? -1 : 1;
    for (let c = 0; c < 3; c++) direction[r * 3 + c] = noNegZero((flip * affine[r * 4 + c]!) / norms[c]!);
  }
  return {
    spacing,
    origin: [noNegZero(-affine[3]!), noNegZero(-affine[7]!), noNegZero(affine[11]!)],
    direction,
  };
}

/** RAS 3x4 affine of LPS geometry (what a NIfTI sform stores). */
export function lpsToRasAffine(g: LpsGeometry): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) {
    const flip = r < 2 ? -1 : 1;
    for (let c = 0; c < 3; c++) out.push(noNegZero(flip * g.direction[r * 3 + c]! * g.spacing[c]!));
    out.push(noNegZero(flip * g.origin[r]!));
  }
  return out;
}

/** RAS direction (row-major 3x3) of LPS geometry. */
export function lpsDirectionToRas(direction: Mat3): Mat3 {
  return direction.map((v, i) => noNegZero(i < 6 ? -v : v)) as Mat3;
}

/** Sign flips turn 0 into -0, which strict equality in tests and JSON round trips treat as a different value. */
export function noNegZero(v: number): number {
  return v === 0 ? 0 : v;
}
