import { describe, expect, it } from 'vitest';
import { canvasSize, isSoftwareRenderer, MOVING_SCALE } from '../../renderer/vtk/interactiveScale.js';

describe('interactive resolution', () => {
  it('knows software rasterisers from GPUs by their WebGL renderer names', () => {
    expect(isSoftwareRenderer('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)')).toBe(true);
    expect(isSoftwareRenderer('llvmpipe (LLVM 15.0.7, 256 bits)')).toBe(true);
    expect(isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)')).toBe(false);
    expect(isSoftwareRenderer('Apple M1')).toBe(false);
  });

  it('sizes the canvas in device pixels, scaled, never below one pixel', () => {
    expect(canvasSize([650, 585], 1, 1)).toEqual([650, 585]);
    expect(canvasSize([650, 585], 1, MOVING_SCALE)).toEqual([325, 292]);
    expect(canvasSize([650, 585], 2, MOVING_SCALE)).toEqual([650, 585]);
    expect(canvasSize([1, 1], 1, MOVING_SCALE)).toEqual([1, 1]);
  });
});
