import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ImportReport, StudySummary } from '../../main/contract/index.js';
import { Engine } from '../../main/engine/engine.js';
import { EngineFailure } from '../../main/engine/errors.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { useEngineStore } from '../../renderer/stores/engine.js';
import { useImportsStore } from '../../renderer/stores/imports.js';
import { normalise, useStudiesStore } from '../../renderer/stores/studies.js';
import { sampleStatus, sampleStudies } from './support/fixtures.js';
import { LoopbackTransport, settle } from './support/loopback.js';

let engine: Engine;
let transport: LoopbackTransport;

beforeEach(() => {
  engine = new Engine();
  transport = new LoopbackTransport(engine);
  provideClient(new EngineClient(transport));
  setActivePinia(createPinia());
});

describe('normalise', () => {
  it('splits nested studies into id-keyed tables that keep the order and links', () => {
    const n = normalise(sampleStudies());
    expect(n.order).toEqual(['st1', 'st2']);
    expect(n.studies.st1!.seriesIds).toEqual(['se1']);
    expect(n.series.se1!.volumeIds).toEqual(['v1', 'v2']);
    expect(n.series.se2!.studyId).toBe('st2');
    expect(Object.keys(n.volumes).sort()).toEqual(['v1', 'v2', 'v3']);
    expect(n.volumes.v2!.frames).toBe(30);
  });
});

describe('studies store', () => {
  it('loads the library, and reloads on library.changed', async () => {
    let list: StudySummary[] = [];
    let calls = 0;
    engine.register({
      'library.listStudies': () => {
        calls++;
        return { studies: list };
      },
    });
    const studies = useStudiesStore();
    studies.start();
    await settle();
    expect(studies.loaded).toBe(true);
    expect(studies.isEmpty).toBe(true);
    list = sampleStudies();
    engine.emit('library.changed', { reason: 'import' });
    await settle();
    expect(studies.isEmpty).toBe(false);
    expect(studies.studyList.map((s) => s.patientId)).toEqual(['patient001', 'P-77']);
    expect(studies.volumeCount).toBe(3);
    expect(calls).toBe(2);
    studies.stop();
    engine.emit('library.changed', { reason: 'import' });
    await settle();
    expect(calls).toBe(2);
  });

  it('collapses a burst of changes into one running and one queued reload', async () => {
    let calls = 0;
    engine.register({
      'library.listStudies': async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        return { studies: sampleStudies() };
      },
    });
    const studies = useStudiesStore();
    const all = Promise.all([studies.refresh(), studies.refresh(), studies.refresh(), studies.refresh()]);
    await all;
    expect(calls).toBe(2);
  });

  it('keeps working and says why when the engine cannot list studies yet', async () => {
    const studies = useStudiesStore();
    await studies.refresh();
    expect(studies.loaded).toBe(false);
    expect(studies.error).toBe('Could not list the studies: this version of the engine cannot do that yet (library.listStudies is not available).');
  });

  it('drops the selection when the selected volume disappears', async () => {
    let list = sampleStudies();
    engine.register({ 'library.listStudies': () => ({ studies: list }) });
    const studies = useStudiesStore();
    await studies.refresh();
    studies.select('v3');
    list = list.slice(0, 1);
    await studies.refresh();
    expect(studies.selectedVolumeId).toBeNull();
  });
});

describe('engine store', () => {
  it('fetches the status at start and again when the link comes back', async () => {
    let n = 0;
    engine.register({ 'engine.status': () => ({ ...sampleStatus(), uptime: ++n }) });
    const store = useEngineStore();
    store.start();
    await settle();
    expect(store.connected).toBe(true);
    expect(store.backend).toBe('wasm');
    expect(store.status?.uptime).toBe(1);
    transport.setState('closed', 'the engine closed the connection (code 1006)');
    expect(store.connected).toBe(false);
    expect(store.problem).toBe('the engine closed the connection (code 1006)');
    transport.setState('open');
    await settle();
    expect(store.status?.uptime).toBe(2);
  });

  it('collects engine notices and warns about a restart', async () => {
    engine.register({ 'engine.status': () => sampleStatus() });
    const store = useEngineStore();
    store.start();
    engine.emit('engine.notice', { level: 'error', message: 'The engine stopped unexpectedly.' });
    engine.emit('engine.ready', { workspace: '/tmp/ws', restarted: true });
    await settle();
    expect(store.notices.map((x) => `${x.level}: ${x.message}`)).toEqual([
      'error: The engine stopped unexpectedly.',
      'warning: The engine restarted; anything it was doing was stopped.',
    ]);
    store.dismissNotice(store.notices[0]!.id);
    expect(store.notices).toHaveLength(1);
  });
});

describe('imports store', () => {
  const report: ImportReport = {
    studiesAdded: 1,
    seriesAdded: 1,
    volumesAdded: 2,
    annotationsAdded: 2,
    alreadyPresent: 0,
    skipped: [{ path: '/data/Info.cfg', reason: 'not a DICOM or NIfTI file' }],
    filesScanned: 5,
    seconds: 1.25,
  };

  it('tracks progress of the running import and keeps its report', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const received: unknown[] = [];
    engine.register({
      'library.import': async (p, ctx) => {
        received.push(p);
        ctx.progress('reading', 2, 5, 'patient001_frame01.nii.gz');
        await gate;
        return report;
      },
      'library.listStudies': () => ({ studies: sampleStudies() }),
    });
    const imports = useImportsStore();
    const done = imports.start(['  /data/acdc/patient001 ', ''], ' *_gt.nii.gz ');
    await settle();
    expect(imports.busy).toBe(true);
    expect(imports.running?.stage).toBe('reading');
    expect(imports.running?.done).toBe(2);
    expect(imports.fraction).toBeCloseTo(0.4, 10);
    expect(imports.running?.message).toBe('patient001_frame01.nii.gz');
    release();
    const outcome = await done;
    expect(received).toEqual([{ paths: ['/data/acdc/patient001'], labels: '*_gt.nii.gz' }]);
    expect(outcome).toEqual({ kind: 'done', paths: ['/data/acdc/patient001'], report });
    expect(imports.busy).toBe(false);
    expect(imports.last).toEqual(outcome);
    await settle();
    expect(useStudiesStore().volumeCount).toBe(3);
  });

  it('cancels the running import', async () => {
    engine.register({
      'library.import': (_p, ctx) =>
        new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => rej(new EngineFailure('CANCELLED', 'stop')))),
    });
    const imports = useImportsStore();
    const done = imports.start(['/data']);
    await settle();
    expect(imports.fraction).toBeNull();
    await imports.cancel();
    const outcome = await done;
    expect(outcome.kind).toBe('cancelled');
    expect(imports.running).toBeNull();
  });

  it('reports a failed import in plain words and refuses an empty path list', async () => {
    engine.register({
      'library.import': () => {
        throw new EngineFailure('BAD_INPUT', '/nope: no such file or folder');
      },
    });
    const imports = useImportsStore();
    expect(await imports.start(['/nope'])).toEqual({ kind: 'failed', paths: ['/nope'], message: 'Import failed: /nope: no such file or folder' });
    expect(await imports.start(['  '])).toEqual({ kind: 'failed', paths: [], message: 'Give at least one folder or file to import.' });
  });
});
