/**
 * The boundary voxels of every label, slice by slice: a voxel keeps its label when one of its four in-plane
 * neighbours holds another value (or lies outside the slice), else becomes 0. Drawn as an ordinary filled
 * layer this is an outline one voxel thick, computed once per frame on the CPU instead of per pixel in a
 * fragment shader (which, on a software GL, costs more than the rest of the frame).
 */
export function labelBorders(map: Uint8Array, dims: readonly [number, number, number]): Uint8Array {
  const [nx, ny, nz] = dims;
  if (map.length !== nx * ny * nz) throw new RangeError(`label map holds ${map.length} voxels, dims ${nx}x${ny}x${nz} say ${nx * ny * nz}`);
  const out = new Uint8Array(map.length);
  for (let k = 0; k < nz; k++) {
    const base = k * nx * ny;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const n = base + i + j * nx;
        const v = map[n]!;
        if (v === 0) continue;
        const edge =
          i === 0 || j === 0 || i === nx - 1 || j === ny - 1 || map[n - 1] !== v || map[n + 1] !== v || map[n - nx] !== v || map[n + nx] !== v;
        if (edge) out[n] = v;
      }
    }
  }
  return out;
}
