import type { EngineStatus, StudySummary } from '../../../main/contract/index.js';

/** Two studies shaped like an ACDC patient (ED/ES + cine) and a DICOM series without annotations. */
export function sampleStudies(): StudySummary[] {
  return [
    {
      id: 'st1',
      uid: '1.2.3',
      patientId: 'patient001',
      patientName: '',
      date: null,
      description: 'ACDC',
      series: [
        {
          id: 'se1',
          studyId: 'st1',
          uid: '1.2.3.1',
          description: 'cine short axis',
          modality: 'MR',
          volumes: [
            {
              id: 'v1',
              seriesId: 'se1',
              name: 'patient001_frame01',
              dims: [216, 256, 10],
              frames: 1,
              spacing: [1.5625, 1.5625, 10],
              phase: 'ED',
              annotations: [{ id: 'a1', source: 'imported', modelId: null, annotatedSlices: 10 }],
            },
            {
              id: 'v2',
              seriesId: 'se1',
              name: 'patient001_4d',
              dims: [216, 256, 10],
              frames: 30,
              spacing: [1.5625, 1.5625, 10],
              phase: null,
              annotations: [],
            },
          ],
        },
      ],
    },
    {
      id: 'st2',
      uid: '9.8.7',
      patientId: 'P-77',
      patientName: 'DOE^JANE',
      date: '2019-04-02',
      description: 'Cardiac MRI',
      series: [
        {
          id: 'se2',
          studyId: 'st2',
          uid: '9.8.7.1',
          description: 'SAX SSFP',
          modality: 'MR',
          volumes: [
            {
              id: 'v3',
              seriesId: 'se2',
              name: 'SAX SSFP',
              dims: [192, 192, 12],
              frames: 25,
              spacing: [1.8, 1.8, 8],
              phase: null,
              annotations: [{ id: 'a3', source: 'predicted', modelId: 'fewshot-3', annotatedSlices: 0 }],
            },
          ],
        },
      ],
    },
  ];
}

export function sampleStatus(): EngineStatus {
  return {
    appVersion: '0.1.0',
    nodeVersion: '20.20.2',
    electronVersion: null,
    platform: 'linux-x64',
    workspace: '/tmp/ws',
    backend: { selected: 'wasm', reason: 'first available', probes: [{ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', available: true }] },
    uptime: 1,
  };
}
