/**
 * Principal components of pixel embeddings: the covariance of a sample (D×D, small) and its eigenvectors by
 * cyclic Jacobi rotations, which are exact enough for D up to a few hundred and need no linear-algebra
 * library.
 */

export interface Pca {
  mean: Float64Array;
  /** Eigenvectors, one per row, by decreasing eigenvalue: components[k * D + c]. */
  components: Float64Array;
  /** Eigenvalues (variances along each component), decreasing. */
  variances: Float64Array;
  dims: number;
}

/** PCA of `count` vectors given by `get(n, out)` (fills a D-vector). */
export function fitPca(count: number, dims: number, get: (n: number, out: Float32Array) => void): Pca {
  if (count < 2) throw new RangeError(`PCA needs at least 2 vectors, got ${count}`);
  const mean = new Float64Array(dims);
  const v = new Float32Array(dims);
  for (let n = 0; n < count; n++) {
    get(n, v);
    for (let c = 0; c < dims; c++) mean[c]! += v[c]!;
  }
  for (let c = 0; c < dims; c++) mean[c]! /= count;
  const cov = new Float64Array(dims * dims);
  const d = new Float64Array(dims);
  for (let n = 0; n < count; n++) {
    get(n, v);
    for (let c = 0; c < dims; c++) d[c] = v[c]! - mean[c]!;
    for (let a = 0; a < dims; a++) {
      const da = d[a]!;
      if (da === 0) continue;
      const row = a * dims;
      for (let b = a; b < dims; b++) cov[row + b]! += da * d[b]!;
    }
  }
  for (let a = 0; a < dims; a++) {
    for (let b = a; b < dims; b++) {
      const x = cov[a * dims + b]! / (count - 1);
      cov[a * dims + b] = x;
      cov[b * dims + a] = x;
    }
  }
  const { values, vectors } = jacobiEigen(cov, dims);
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]!);
  const components = new Float64Array(dims * dims);
  const variances = new Float64Array(dims);
  order.forEach((k, r) => {
    variances[r] = Math.max(0, values[k]!);
    // Sign convention: the largest-magnitude coordinate positive, so results do not flip between runs.
    let big = 0;
    for (let c = 0; c < dims; c++) if (Math.abs(vectors[c * dims + k]!) > Math.abs(vectors[big * dims + k]!)) big = c;
    const s = vectors[big * dims + k]! < 0 ? -1 : 1;
    for (let c = 0; c < dims; c++) components[r * dims + c] = s * vectors[c * dims + k]!;
  });
  return { mean, components, variances, dims };
}

/** Coordinates of vector `v` on the first `k` components. */
export function projectPca(pca: Pca, v: ArrayLike<number>, k: number, out: Float32Array | Float64Array, offset = 0): void {
  const D = pca.dims;
  for (let r = 0; r < k; r++) {
    let s = 0;
    const row = r * D;
    for (let c = 0; c < D; c++) s += (v[c]! - pca.mean[c]!) * pca.components[row + c]!;
    out[offset + r] = s;
  }
}

/** Eigen-decomposition of a symmetric matrix: eigenvalues and eigenvectors as columns (vectors[r * n + k]). */
export function jacobiEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const vec = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vec[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p]! ** 2;
      for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    }
    if (off <= 1e-22 * (diag + 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = vec[k * n + p]!;
          const vkq = vec[k * n + q]!;
          vec[k * n + p] = c * vkp - s * vkq;
          vec[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: vec };
}
