import type { InjectionKey } from 'vue';
import type { ViewId } from '../../stores/viewer.js';

/** Which view of the layout a layer belongs to: SliceView provides it, its layers read their state by it. */
export const VIEW_ID: InjectionKey<ViewId> = Symbol('pix2rep.viewId');
