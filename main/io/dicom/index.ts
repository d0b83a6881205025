/** DICOM import: scan folders into series (headers only), then decode a series into a Volume. */
export { scanDicom, listFiles, type DicomScanResult, type DicomScanOptions, type DicomFileError } from './scan.js';
export { readDicomSeries, DicomReadError, transferSyntaxName, type ReadDicomSeriesOptions } from './read.js';
export { decodeFile, decodeWithItk, readNativePixels, type DecodedFile, type DecoderChoice } from './pixels.js';
export { groupSeries, isoDate, type DicomSeriesInfo, type PlaneRef } from './series.js';
export { readDicomHeader, type DicomFileHeader, type FrameHeader } from './header.js';
export { DicomParseError, looksLikeDicom, parseDicom } from './dataset.js';
export { readDicomSeg, labelsOnGrid, type DicomSegInfo, type DicomSegment, type LabelsOnGrid } from './seg.js';
export { mergeCineSlices } from './stack.js';
