import { readNifti } from '../io/nifti.js';
import { frameData } from '../io/volume.js';
import type { Handlers } from '../engine/engine.js';
import { EngineFailure } from '../engine/errors.js';
import { exportTarget } from './export.js';
import { dtypeOf } from './import/hash.js';
import { openLibrary, type Library } from './library.js';

/**
 * Contract handlers of the library domain for one workspace. The catalogue is opened on first use and
 * kept open for the engine's life (better-sqlite3 calls are synchronous and cheap).
 */
export function libraryHandlers(workspaceDir: string): Handlers {
  let lib: Library | null = null;
  const open = () => (lib ??= openLibrary(workspaceDir));

  return {
    'library.listStudies': () => ({ studies: open().catalog.listStudies() }),

    'library.import': async ({ paths, labels }, ctx) => {
      // Loaded on first import: the DICOM decoder (itk-wasm) is heavy and most engine starts never import.
      const { importPaths } = await import('./import/pipeline.js');
      const report = await importPaths(open(), {
        paths,
        ...(labels ? { labels } : {}),
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(p.stage, p.done, p.total, p.message),
      });
      if (report.volumesAdded || report.annotationsAdded) ctx.emit('library.changed', { reason: 'import' });
      return report;
    },

    'library.readVolume': async ({ volumeId, frame }) => {
      const row = open().catalog.volume(volumeId);
      if (!row) throw new EngineFailure('NOT_FOUND', `no volume ${volumeId}`);
      if (frame >= row.frames) throw new EngineFailure('BAD_INPUT', `volume ${volumeId} has ${row.frames} frame(s); frame ${frame} does not exist`);
      const v = await readNifti(open().abs(row.storedPath));
      const data = frameData(v, frame);
      return {
        id: row.id,
        dims: v.dims,
        frames: v.frames,
        spacing: v.spacing,
        origin: v.origin,
        direction: [...v.direction],
        dtype: dtypeOf(data),
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      };
    },

    'library.export': async ({ target, out }) => ({ files: await exportTarget(open(), target, out) }),
  };
}
