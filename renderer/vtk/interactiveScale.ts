/**
 * Resolution of a view's frames while its slice or frame changes continuously (scrolling, cine), as a
 * fraction of the full canvas size per axis. Only without a GPU: there every canvas pixel of every layer is
 * shaded on the CPU, and half the size per axis is a quarter of that work; the view draws itself again at
 * full resolution in the first animation frame that brings no new slice. At the default zoom half the
 * canvas still has about one pixel per voxel, so a moving picture loses little; a still one loses nothing.
 */
export const MOVING_SCALE = 0.5;

/** Whether a WebGL renderer string names a software rasteriser (SwiftShader, Mesa's llvmpipe/softpipe). */
export function isSoftwareRenderer(name: string): boolean {
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}

/** The canvas size in device pixels for a container of `css` CSS px, at `scale`. */
export function canvasSize(css: readonly [number, number], dpr: number, scale: number): [number, number] {
  return [Math.max(1, Math.floor(css[0] * dpr * scale)), Math.max(1, Math.floor(css[1] * dpr * scale))];
}
