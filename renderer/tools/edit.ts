/**
 * Recording one edit of a slice as a diff, so that undo restores exactly what was there and redo re-applies
 * exactly what the tool wrote, whatever the tool was.
 */
export interface SliceDiff {
  frame: number;
  k: number;
  /** Voxel indices within the slice (i + j * nx), ascending. */
  indices: Uint32Array;
  before: Uint8Array;
  after: Uint8Array;
}

/**
 * Collects the first value seen at each voxel a tool touches; `finish` keeps only the voxels whose value
 * really changed (a brush passing twice over the same voxel, or painting a voxel with its own label, is
 * no change).
 */
export class SliceEdit {
  private readonly first = new Map<number, number>();

  constructor(
    readonly slice: Uint8Array,
    readonly frame: number,
    readonly k: number,
  ) {}

  set(index: number, value: number): void {
    const old = this.slice[index];
    if (old === undefined) throw new RangeError(`voxel ${index} outside the slice of ${this.slice.length}`);
    if (!this.first.has(index)) this.first.set(index, old);
    this.slice[index] = value;
  }

  /** The slice as it was before this edit: what a save made mid-stroke must write (never half a stroke). */
  original(): Uint8Array {
    const out = this.slice.slice();
    for (const [i, v] of this.first) out[i] = v;
    return out;
  }

  get touched(): number {
    return this.first.size;
  }

  finish(): SliceDiff | null {
    const changed = [...this.first.entries()].filter(([i, v]) => this.slice[i] !== v).sort((a, b) => a[0] - b[0]);
    if (changed.length === 0) return null;
    const indices = new Uint32Array(changed.length);
    const before = new Uint8Array(changed.length);
    const after = new Uint8Array(changed.length);
    changed.forEach(([i, v], n) => {
      indices[n] = i;
      before[n] = v;
      after[n] = this.slice[i]!;
    });
    return { frame: this.frame, k: this.k, indices, before, after };
  }
}

/** Write one side of a diff into the slice it was taken from. */
export function applyDiff(slice: Uint8Array, diff: SliceDiff, side: 'before' | 'after'): void {
  const values = diff[side];
  for (let n = 0; n < diff.indices.length; n++) slice[diff.indices[n]!] = values[n]!;
}
