import vtkDataArray from '@kitware/vtk.js/Common/Core/DataArray';
import vtkImageData from '@kitware/vtk.js/Common/DataModel/ImageData';
import vtkPiecewiseFunction from '@kitware/vtk.js/Common/DataModel/PiecewiseFunction';
import vtkColorTransferFunction from '@kitware/vtk.js/Rendering/Core/ColorTransferFunction';
import type vtkImageSlice from '@kitware/vtk.js/Rendering/Core/ImageSlice';
import { imageSlice } from '../../vtk/layers.js';
import { HEAT_OPACITY, HEAT_STOPS } from './heat.js';

/**
 * A similarity map drawn over the slice it belongs to: a one-slice image in the viewer's display space
 * (voxel (i, j) at (i·sx, j·sy) mm, the slice at k·sz), coloured and faded through the heat transfer functions.
 */
export interface HeatLayer {
  actor: vtkImageSlice;
  /** Show `values` (ni·nj, i fastest) at slice k. */
  show(values: Float32Array, dims: [number, number], spacing: [number, number, number], k: number): void;
  setOpacity(opacity: number): void;
  dispose(): void;
}

export function makeHeatLayer(): HeatLayer {
  const image = vtkImageData.newInstance();
  const { mapper, actor } = imageSlice(image);
  const prop = actor.getProperty();
  // Nearest lookup: each embedding pixel is one cell of the map, as the network sees it.
  prop.setInterpolationTypeToNearest();
  prop.setUseLookupTableScalarRange(true);
  const colours = vtkColorTransferFunction.newInstance();
  for (const [x, c] of HEAT_STOPS) colours.addRGBPoint(x, c[0] / 255, c[1] / 255, c[2] / 255);
  colours.addRGBPoint(-1, 0, 0, 0);
  const opacities = vtkPiecewiseFunction.newInstance();
  for (const [x, a] of HEAT_OPACITY) opacities.addPoint(x, a);
  prop.setRGBTransferFunction(0, colours);
  prop.setScalarOpacity(0, opacities);
  // Blended in the opaque pass like the label layers: a semi-transparent actor would send every frame through
  // vtk's order-independent transparency pass, which costs tens of ms a frame without a GPU (docs/PERFORMANCE.md).
  actor.setForceOpaque(true);
  return {
    actor,
    show(values, dims, spacing, k) {
      image.setDimensions([dims[0], dims[1], 1]);
      image.setSpacing(spacing);
      image.setOrigin([0, 0, k * spacing[2]]);
      image.getPointData().setScalars(vtkDataArray.newInstance({ name: 'similarity', numberOfComponents: 1, values }));
      image.modified();
      // Above the label layers (lifted 0.01 of the finest spacing) so the map is never hidden under them.
      actor.setPosition(0, 0, -Math.min(...spacing) * 0.02);
    },
    setOpacity: (o) => prop.setOpacity(o),
    dispose() {
      actor.delete();
      mapper.delete();
      image.delete();
      colours.delete();
      opacities.delete();
    },
  };
}
