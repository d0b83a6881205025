/**
 * Floating-point operations of the kernels that dominate a conv net, from the shapes tf.profile records
 * (input shapes in the kernel's input order, output shapes). A multiply-add counts as 2 FLOPs.
 */

export interface KernelRecord {
  name: string;
  inputShapes: (number[] | null)[];
  outputShapes: (number[] | null)[];
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** FLOPs of one kernel call; 0 for kernels outside the conv/matmul family (their cost is memory, not arithmetic). */
export function kernelFlops(k: KernelRecord): number {
  const [in0, in1] = k.inputShapes;
  const out = k.outputShapes[0];
  switch (k.name) {
    case 'Conv2D':
    case 'FusedConv2D': {
      // filter [kh, kw, ci, co]: every output element is a kh·kw·ci dot product.
      if (!out || !in1) return 0;
      const [kh, kw, ci] = in1 as [number, number, number];
      return 2 * prod(out) * kh * kw * ci;
    }
    case 'Conv2DBackpropInput': {
      // inputs (dy, filter): every dy element is spread over kh·kw·ci outputs (also the transposed conv).
      if (!in0 || !in1) return 0;
      const [kh, kw, ci] = in1 as [number, number, number];
      return 2 * prod(in0) * kh * kw * ci;
    }
    case 'Conv2DBackpropFilter': {
      // inputs (x, dy), output the filter [kh, kw, ci, co]: every dy element meets kh·kw·ci inputs.
      if (!in1 || !out) return 0;
      const [kh, kw, ci] = out as [number, number, number];
      return 2 * prod(in1) * kh * kw * ci;
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      // out [..., M, N] from a [..., M, K] (or its transpose): K = |a| · N / |out| when a is not broadcast.
      if (!in0 || !out || out.length < 2) return 0;
      const n = out[out.length - 1]!;
      const size = prod(out);
      if (size === 0) return 0;
      const kDim = (prod(in0) * n) / size;
      return 2 * size * kDim;
    }
    default:
      return 0;
  }
}

export function totalFlops(kernels: readonly KernelRecord[]): number {
  return kernels.reduce((sum, k) => sum + kernelFlops(k), 0);
}
