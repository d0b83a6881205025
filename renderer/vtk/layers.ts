import vtkDataArray from '@kitware/vtk.js/Common/Core/DataArray';
import vtkImageData from '@kitware/vtk.js/Common/DataModel/ImageData';
import vtkPiecewiseFunction from '@kitware/vtk.js/Common/DataModel/PiecewiseFunction';
import vtkColorTransferFunction from '@kitware/vtk.js/Rendering/Core/ColorTransferFunction';
import vtkImageMapper from '@kitware/vtk.js/Rendering/Core/ImageMapper';
import { SlicingMode } from '@kitware/vtk.js/Rendering/Core/ImageMapper/Constants';
import vtkImageSlice from '@kitware/vtk.js/Rendering/Core/ImageSlice';
import { cropLabelSlice } from '../viewer/labelCrop.js';
import type { TypedArray } from '../viewer/voxels.js';

/**
 * The image and label-map layers of a slice view. Data live in *display space*: voxel (i, j, k) at
 * (i·sx, j·sy, k·sz) mm, identity axes. The view shows axial slices (constant k) with i to the right and
 * j down, so screen pixels map to voxels with plain arithmetic; patient (LPS) coordinates are computed
 * from the volume's own affine, never from these.
 */
export interface SliceLayer {
  actor: vtkImageSlice;
  mapper: vtkImageMapper;
  image: vtkImageData;
  setVoxels(values: TypedArray): void;
  /** The voxels were changed in place (painting): upload them again. */
  touch(): void;
  setSlice(k: number): void;
  dispose(): void;
}

/** A slicing mapper (constant k, slice 0 to start) and its actor drawing `image`: every layer's vtk pair. */
export function imageSlice(image: vtkImageData): { mapper: vtkImageMapper; actor: vtkImageSlice } {
  const mapper = vtkImageMapper.newInstance();
  mapper.setInputData(image);
  mapper.setSlicingMode(SlicingMode.K);
  mapper.setSlice(0);
  const actor = vtkImageSlice.newInstance();
  actor.setMapper(mapper);
  return { mapper, actor };
}

function makeLayer(dims: [number, number, number], spacing: [number, number, number], values: TypedArray): SliceLayer {
  const image = vtkImageData.newInstance();
  image.setDimensions(dims);
  image.setSpacing(spacing);
  image.setOrigin([0, 0, 0]);
  const setVoxels = (v: TypedArray) => {
    image.getPointData().setScalars(vtkDataArray.newInstance({ name: 'voxels', numberOfComponents: 1, values: v }));
    image.modified();
  };
  setVoxels(values);
  const { mapper, actor } = imageSlice(image);
  return {
    actor,
    mapper,
    image,
    setVoxels,
    touch() {
      image.getPointData().getScalars().modified();
      image.modified();
    },
    setSlice: (k) => mapper.setSlice(k),
    dispose() {
      actor.delete();
      mapper.delete();
      image.delete();
    },
  };
}

export function makeImageLayer(dims: [number, number, number], spacing: [number, number, number], values: TypedArray): SliceLayer {
  const layer = makeLayer(dims, spacing, values);
  layer.actor.getProperty().setInterpolationTypeToLinear();
  return layer;
}

export interface LabelStyle {
  value: number;
  color: string;
  visible: boolean;
}

/** A label map over the image: the map of one whole frame, drawn slice by slice. */
export interface LabelLayer {
  actor: vtkImageSlice;
  /** The frame's dimensions (the layer draws a part of one slice of it). */
  dims: [number, number, number];
  setVoxels(values: Uint8Array): void;
  /** The voxels were changed in place (painting): take the current slice again. */
  touch(): void;
  setSlice(k: number): void;
  setStyle(labels: LabelStyle[], fillOpacity: number, outline: boolean): void;
  dispose(): void;
}

/**
 * Label maps are drawn with nearest-neighbour lookup through a step-shaped colour and opacity table:
 * each label value owns the interval value ± 0.5, so interpolation of the table can never blend two labels.
 * Only the labelled rectangle of the current slice is handed to vtk (cropLabelSlice): the quad it draws covers
 * that rectangle instead of the whole slice, and a slice without labels draws nothing.
 */
export function makeLabelLayer(
  dims: [number, number, number],
  spacing: [number, number, number],
  values: Uint8Array,
  /** Distance towards the camera, in units of the finest spacing: the edited layer sits above a reference. */
  lift = 0.01,
): LabelLayer {
  let map = values;
  let k = 0;
  const image = vtkImageData.newInstance();
  image.setSpacing(spacing);
  const { mapper, actor } = imageSlice(image);
  // Two voxels of background around the labels: vtk's outline shader compares each pixel with its
  // neighbours one screen pixel away, which must still read background, not the clamped texture edge.
  const refresh = () => {
    const crop = cropLabelSlice(map, dims, k, 2);
    actor.setVisibility(!!crop);
    if (!crop) return;
    image.setDimensions([crop.nx, crop.ny, 1]);
    image.setOrigin([crop.i0 * spacing[0], crop.j0 * spacing[1], k * spacing[2]]);
    image.getPointData().setScalars(vtkDataArray.newInstance({ name: 'labels', numberOfComponents: 1, values: crop.values }));
    image.modified();
  };
  refresh();
  const prop = actor.getProperty();
  prop.setInterpolationTypeToNearest();
  prop.setUseLookupTableScalarRange(true);
  const colors = vtkColorTransferFunction.newInstance();
  const opacities = vtkPiecewiseFunction.newInstance();
  prop.setRGBTransferFunction(0, colors);
  prop.setScalarOpacity(0, opacities);
  // Drawn a hair towards the camera so it never z-fights with the image slice in the same plane.
  actor.setPosition(0, 0, -Math.min(...spacing) * lift);
  // Drawn in the opaque pass whatever its opacity, blended over what is below it (vtk keeps alpha blending
  // on in that pass; the view orders the layers, RenderView.addLayer). A translucent layer would instead send
  // vtk through its order-independent transparency pass: two float render targets and a compositing quad per
  // frame, for a single flat layer whose plain blend is exact. Without a GPU that pass cost 50 ms a frame
  // (docs/PERFORMANCE.md, viewer).
  actor.setForceOpaque(true);
  return {
    actor,
    dims,
    setVoxels(v) {
      map = v;
      refresh();
    },
    touch: refresh,
    setSlice(slice) {
      if (slice === k) return;
      k = slice;
      refresh();
    },
    setStyle(labels, fillOpacity, outline) {
      colors.removeAllPoints();
      opacities.removeAllPoints();
      const maxValue = Math.max(1, ...labels.map((l) => l.value));
      const visible = new Map(labels.map((l) => [l.value, l.visible]));
      colors.addRGBPoint(-0.5, 0, 0, 0);
      opacities.addPoint(-0.5, 0);
      opacities.addPoint(0.49, 0);
      for (const l of [...labels].sort((a, b) => a.value - b.value)) {
        const [r, g, b] = hexToRgb(l.color);
        for (const x of [l.value - 0.49, l.value + 0.49]) {
          colors.addRGBPoint(x, r, g, b);
          opacities.addPoint(x, l.visible ? 1 : 0);
        }
      }
      colors.addRGBPoint(maxValue + 0.5, 0, 0, 0);
      opacities.addPoint(maxValue + 0.5, 0);
      // vtk's outline shader draws border pixels at the per-label outline opacity (indexed by value - 1)
      // and the interior at the ordinary opacity: outline-only is an interior opacity of 0.
      prop.setUseLabelOutline(outline);
      prop.setOpacity(outline ? 0 : fillOpacity);
      if (outline) {
        const per = Array.from({ length: maxValue }, (_, n) => (visible.get(n + 1) ? 1 : 0));
        prop.setLabelOutlineOpacity(per);
        prop.setLabelOutlineThickness(Array.from({ length: maxValue }, () => 1));
      }
      actor.modified();
    },
    dispose() {
      actor.delete();
      mapper.delete();
      image.delete();
      colors.delete();
      opacities.delete();
    },
  };
}

export function hexToRgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return [1, 1, 1];
  return [parseInt(m[1]!, 16) / 255, parseInt(m[2]!, 16) / 255, parseInt(m[3]!, 16) / 255];
}
