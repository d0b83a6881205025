// WebGL implementations of the few classes a slice view draws with; importing them registers them with the
// vtk factory (the full profiles would pull volume rendering and WebGPU for nothing).
import '@kitware/vtk.js/Rendering/OpenGL/Camera';
import '@kitware/vtk.js/Rendering/OpenGL/Renderer';
import '@kitware/vtk.js/Rendering/OpenGL/ImageMapper';
import '@kitware/vtk.js/Rendering/OpenGL/ImageSlice';
import vtkOpenGLRenderWindow from '@kitware/vtk.js/Rendering/OpenGL/RenderWindow';
import vtkRenderWindow from '@kitware/vtk.js/Rendering/Core/RenderWindow';
import vtkRenderer from '@kitware/vtk.js/Rendering/Core/Renderer';
import type vtkProp from '@kitware/vtk.js/Rendering/Core/Prop';
import type { InjectionKey } from 'vue';
import { canvasSize, isSoftwareRenderer, MOVING_SCALE } from './interactiveScale.js';
import { orderByRank, sortRankedInPlace } from './layerOrder.js';

/**
 * One vtk render window bound to a DOM container. The view component owns it (creates it on mount,
 * deletes it on unmount) and hands a `RenderView` to its layers through provide/inject.
 */
export interface RenderView {
  renderer: vtkRenderer;
  /**
   * Add a layer's actor to be drawn after every layer of a lower rank (image 0, reference labels 1, edited
   * labels 2; actors added with `renderer.addActor` come last). Layers are drawn in one pass, each a hair
   * nearer the camera than the one below and depth-tested, so their order must not depend on which one's
   * data happened to load first.
   */
  addLayer(actor: vtkProp, rank: number): void;
  /**
   * Ask for a frame; many requests within one animation frame draw once. `moving`: the slice or frame
   * changed, as it does many times a second while scrolling or playing; on a software renderer that frame
   * is drawn at reduced resolution (interactiveScale.ts), and the next still frame at full resolution.
   */
  requestRender(options?: { moving?: boolean }): void;
  /** Draw now: after a resize, which clears the canvas, so no blank frame reaches the screen. */
  renderNow(): void;
  /** Match the canvas to the container's size (CSS px × devicePixelRatio). Returns [width, height] in CSS px. */
  resize(): [number, number];
  dispose(): void;
}

export const RENDER_VIEW: InjectionKey<RenderView> = Symbol('pix2rep.renderView');

export function createRenderView(container: HTMLElement, background: [number, number, number]): RenderView {
  const renderWindow = vtkRenderWindow.newInstance();
  const renderer = vtkRenderer.newInstance({ background });
  renderWindow.addRenderer(renderer);
  const gl = vtkOpenGLRenderWindow.newInstance();
  // No multisampling: slices are axis-aligned textured quads, so MSAA smooths nothing, while without a GPU
  // (SwiftShader) it multiplies the fill of every frame (docs/PERFORMANCE.md). vtk asks its canvas for the
  // context later, with its own options; a canvas hands back the context it already has, so creating it
  // here first is how to choose.
  const context = gl.getCanvas()?.getContext('webgl2', { antialias: false, preserveDrawingBuffer: false, depth: true, alpha: true, powerPreference: 'high-performance' });
  const software = !!context && isSoftwareRenderer(rendererName(context));
  renderWindow.addView(gl);
  gl.setContainer(container);
  let pending = 0;
  let disposed = false;
  let moving = false;
  let scale = 1;
  let css: [number, number] = [1, 1];
  const applySize = () => gl.setSize(...canvasSize(css, window.devicePixelRatio || 1, scale));
  const ranks = new WeakMap<vtkProp, number>();

  // vtk draws a renderer's props in the order of its scene-graph nodes, which it means to keep in the order
  // of the props (addMissingNodes with enforceOrder) but does not: vtk.js 34's ViewNode calls its moveChild
  // helper with swapped arguments, so a node stays where it was created, and a layer whose data arrived
  // later is drawn later whatever its place in the props. Put the layer nodes in rank order before each
  // render, creating the nodes of new layers first so they are in place from their first frame.
  const orderLayerNodes = () => {
    const node = gl.getViewNodeFor(renderer);
    if (!node) return; // before the first render: vtk creates the nodes in props order, already ranked
    for (const p of renderer.getViewProps()) if (ranks.has(p)) node.addMissingNode(p);
    sortRankedInPlace(node.getChildrenByReference() as { getRenderable(): vtkProp }[], (c) => ranks.get(c.getRenderable()));
  };
  const draw = () => {
    orderLayerNodes();
    renderWindow.render();
  };

  const resize = (): [number, number] => {
    const { width, height } = container.getBoundingClientRect();
    css = [Math.max(1, Math.floor(width)), Math.max(1, Math.floor(height))];
    scale = 1;
    applySize();
    return [...css];
  };
  const frame = () => {
    pending = 0;
    if (disposed) return;
    const want = moving && software ? MOVING_SCALE : 1;
    if (want !== scale) {
      scale = want;
      applySize();
    }
    draw();
    // A reduced frame is followed by a full one, unless the next frame moves on again.
    if (moving && software) request();
    moving = false;
  };
  const request = () => {
    if (pending || disposed) return;
    pending = requestAnimationFrame(frame);
  };

  return {
    renderer,
    addLayer(actor, rank) {
      ranks.set(actor, rank);
      const props = renderer.getViewProps();
      const ordered = orderByRank(props.includes(actor) ? props : [...props, actor], (p) => ranks.get(p));
      renderer.removeAllViewProps();
      for (const p of ordered) renderer.addViewProp(p);
      renderer.modified();
    },
    requestRender(options) {
      if (options?.moving) moving = true;
      request();
    },
    renderNow() {
      if (disposed) return;
      if (pending) cancelAnimationFrame(pending);
      pending = 0;
      moving = false;
      if (scale !== 1) {
        scale = 1;
        applySize();
      }
      draw();
    },
    resize,
    dispose() {
      disposed = true;
      if (pending) cancelAnimationFrame(pending);
      renderer.getActors().forEach((a) => renderer.removeActor(a));
      gl.setContainer(null as unknown as HTMLElement);
      renderWindow.removeRenderer(renderer);
      renderWindow.removeView(gl);
      renderer.delete();
      gl.delete();
      renderWindow.delete();
    },
  };
}

/** The GPU behind a context, as the browser names it (the unmasked name where the browser gives it). */
function rendererName(context: WebGL2RenderingContext): string {
  const info = context.getExtension('WEBGL_debug_renderer_info');
  return String(context.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : context.RENDERER) ?? '');
}
