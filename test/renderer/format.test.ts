import { describe, expect, it } from 'vitest';
import { annotationStatus, formatDims, formatSeconds, formatSpacing, patientLabel, pathsFromDroppedText } from '../../renderer/utils/format.js';

describe('format helpers', () => {
  it('formats geometry', () => {
    expect(formatDims([216, 256, 10])).toBe('216 × 256 × 10');
    expect(formatSpacing([1.5625, 1.5625, 10])).toBe('1.56 × 1.56 × 10 mm');
  });

  it('names a patient by name, else id, else anonymous', () => {
    expect(patientLabel('DOE^JANE', 'P1')).toBe('DOE^JANE');
    expect(patientLabel(' ', 'P1')).toBe('P1');
    expect(patientLabel('', '')).toBe('Anonymous');
  });

  it('summarises annotation status by source', () => {
    expect(annotationStatus({ annotations: [] })).toEqual({ text: 'not annotated', state: 'none' });
    expect(annotationStatus({ annotations: [{ id: 'a', source: 'manual', modelId: null, annotatedSlices: 1 }] })).toEqual({
      text: 'manual, 1 slice',
      state: 'annotated',
    });
    expect(annotationStatus({ annotations: [{ id: 'a', source: 'manual', modelId: null, annotatedSlices: 0 }] }).state).toBe('partial');
    expect(
      annotationStatus({
        annotations: [
          { id: 'a', source: 'imported', modelId: null, annotatedSlices: 9 },
          { id: 'b', source: 'predicted', modelId: 'm7', annotatedSlices: 10 },
        ],
      }),
    ).toEqual({ text: 'imported, 9 slices; predicted by m7, 10 slices', state: 'annotated' });
  });

  it('formats durations', () => {
    expect(formatSeconds(0.452)).toBe('452 ms');
    expect(formatSeconds(2.54)).toBe('2.5 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
  });

  it('reads local paths out of dropped text (file URIs or plain paths), ignoring anything else', () => {
    expect(pathsFromDroppedText('# comment\r\nfile:///data/My%20Scans/p1\r\nfile:///C:/dicom/x\n/abs/path\nhttps://example.org/a\nrelative/x')).toEqual([
      '/data/My Scans/p1',
      'C:/dicom/x',
      '/abs/path',
    ]);
    expect(pathsFromDroppedText('')).toEqual([]);
  });
});
