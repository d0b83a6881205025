/** Tags, transfer syntaxes and SOP classes the importer reads or recognises. */

export const TS = {
  IMPLICIT_LE: '1.2.840.10008.1.2',
  EXPLICIT_LE: '1.2.840.10008.1.2.1',
  DEFLATED: '1.2.840.10008.1.2.1.99',
  EXPLICIT_BE: '1.2.840.10008.1.2.2',
} as const;

/** Transfer syntaxes whose pixels are stored uncompressed (native). */
export const NATIVE_SYNTAXES = new Set<string>([TS.IMPLICIT_LE, TS.EXPLICIT_LE, TS.DEFLATED, TS.EXPLICIT_BE]);

export const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  [TS.IMPLICIT_LE]: 'Implicit VR Little Endian',
  [TS.EXPLICIT_LE]: 'Explicit VR Little Endian',
  [TS.DEFLATED]: 'Deflated Explicit VR Little Endian',
  [TS.EXPLICIT_BE]: 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.8.1': 'Deflated Image Frame Compression',
};

export const SOP = {
  ENHANCED_MR: '1.2.840.10008.5.1.4.1.1.4.1',
  ENHANCED_CT: '1.2.840.10008.5.1.4.1.1.2.1',
  SEG: '1.2.840.10008.5.1.4.1.1.66.4',
  RTSTRUCT: '1.2.840.10008.5.1.4.1.1.481.3',
  MEDIA_STORAGE_DIRECTORY: '1.2.840.10008.1.3.10',
} as const;

/** SOP classes that are never image series, with the reason the scan reports. */
export const NON_IMAGE_SOP: Record<string, string> = {
  [SOP.SEG]: 'DICOM SEG: not an image series (SEG import not supported yet)',
  [SOP.RTSTRUCT]: 'RTSTRUCT: not an image series (RTSTRUCT import not supported yet)',
  [SOP.MEDIA_STORAGE_DIRECTORY]: 'DICOMDIR: a directory index, not an image (its images are scanned directly)',
  '1.2.840.10008.5.1.4.1.1.481.2': 'RT Dose: not supported',
  '1.2.840.10008.5.1.4.1.1.481.5': 'RT Plan: not an image series',
  '1.2.840.10008.5.1.4.1.1.481.8': 'RT Ion Plan: not an image series',
  '1.2.840.10008.5.1.4.1.1.104.1': 'Encapsulated PDF: not an image series',
};

/** Structured reports (1.2.840.10008.5.1.4.1.1.88.*) and presentation states (…11.*) are not images either. */
export function nonImageReason(sopClass: string): string | undefined {
  if (NON_IMAGE_SOP[sopClass]) return NON_IMAGE_SOP[sopClass];
  if (sopClass.startsWith('1.2.840.10008.5.1.4.1.1.88.')) return 'Structured Report: not an image series';
  if (sopClass.startsWith('1.2.840.10008.5.1.4.1.1.11.')) return 'Presentation State: not an image series';
  return undefined;
}

export const T = {
  ImageType: 0x00080008,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyDate: 0x00080020,
  SeriesDate: 0x00080021,
  AcquisitionDate: 0x00080022,
  StudyTime: 0x00080030,
  AcquisitionTime: 0x00080032,
  Modality: 0x00080060,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  FrameType: 0x00089007,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  SliceThickness: 0x00180050,
  SpacingBetweenSlices: 0x00180088,
  TriggerTime: 0x00181060,
  EchoNumbers: 0x00180086,
  CardiacSynchronizationSequence: 0x00189118,
  NominalCardiacTriggerDelayTime: 0x00209153,
  MRImageFrameTypeSequence: 0x00189226,
  MREchoSequence: 0x00189114,
  EffectiveEchoTime: 0x00189082,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  SeriesNumber: 0x00200011,
  AcquisitionNumber: 0x00200012,
  InstanceNumber: 0x00200013,
  ImagePositionPatient: 0x00200032,
  ImageOrientationPatient: 0x00200037,
  FrameOfReferenceUID: 0x00200052,
  TemporalPositionIdentifier: 0x00200100,
  NumberOfTemporalPositions: 0x00200105,
  InStackPositionNumber: 0x00209057,
  StackID: 0x00209056,
  FrameContentSequence: 0x00209111,
  PlanePositionSequence: 0x00209113,
  PlaneOrientationSequence: 0x00209116,
  TemporalPositionIndex: 0x00209128,
  FrameAcquisitionDateTime: 0x00189074,
  DimensionIndexValues: 0x00209157,
  SharedFunctionalGroupsSequence: 0x52009229,
  PerFrameFunctionalGroupsSequence: 0x52009230,
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  PixelSpacing: 0x00280030,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  PixelRepresentation: 0x00280103,
  RescaleIntercept: 0x00281052,
  RescaleSlope: 0x00281053,
  PixelMeasuresSequence: 0x00289110,
  PixelValueTransformationSequence: 0x00289145,
  // Siemens private: number of tiles in a MOSAIC image (CSA "NumberOfImagesInMosaic").
  SiemensNumberOfImagesInMosaic: 0x0019100a,
  FrameTime: 0x00181063,
  ReferencedSeriesSequence: 0x00081115,
  ReferencedInstanceSequence: 0x0008114a,
  ReferencedSOPInstanceUID: 0x00081155,
  SegmentSequence: 0x00620002,
  SegmentNumber: 0x00620004,
  SegmentLabel: 0x00620005,
  SegmentationType: 0x00620001,
} as const;

/**
 * VRs of the tags read from Implicit VR files (where the file does not say). Sequences must be listed so
 * that defined-length sequences are parsed into items rather than skipped as opaque bytes.
 */
export const DICT_VR = new Map<number, string>([
  [T.ImageType, 'CS'], [T.SOPClassUID, 'UI'], [T.SOPInstanceUID, 'UI'], [T.StudyDate, 'DA'], [T.SeriesDate, 'DA'],
  [T.AcquisitionDate, 'DA'], [T.StudyTime, 'TM'], [T.AcquisitionTime, 'TM'], [T.Modality, 'CS'],
  [T.StudyDescription, 'LO'], [T.SeriesDescription, 'LO'], [T.FrameType, 'CS'], [T.PatientName, 'PN'],
  [T.PatientID, 'LO'], [T.SliceThickness, 'DS'], [T.SpacingBetweenSlices, 'DS'], [T.TriggerTime, 'DS'],
  [T.EchoNumbers, 'IS'], [T.CardiacSynchronizationSequence, 'SQ'], [T.NominalCardiacTriggerDelayTime, 'FD'],
  [T.MRImageFrameTypeSequence, 'SQ'], [T.MREchoSequence, 'SQ'], [T.EffectiveEchoTime, 'FD'],
  [T.StudyInstanceUID, 'UI'], [T.SeriesInstanceUID, 'UI'], [T.SeriesNumber, 'IS'], [T.AcquisitionNumber, 'IS'],
  [T.InstanceNumber, 'IS'], [T.ImagePositionPatient, 'DS'], [T.ImageOrientationPatient, 'DS'],
  [T.FrameOfReferenceUID, 'UI'], [T.TemporalPositionIdentifier, 'IS'], [T.NumberOfTemporalPositions, 'IS'],
  [T.InStackPositionNumber, 'UL'], [T.StackID, 'SH'], [T.FrameContentSequence, 'SQ'],
  [T.PlanePositionSequence, 'SQ'], [T.PlaneOrientationSequence, 'SQ'], [T.TemporalPositionIndex, 'UL'],
  [T.FrameAcquisitionDateTime, 'DT'], [T.DimensionIndexValues, 'UL'], [T.SharedFunctionalGroupsSequence, 'SQ'],
  [T.PerFrameFunctionalGroupsSequence, 'SQ'], [T.SamplesPerPixel, 'US'], [T.PhotometricInterpretation, 'CS'],
  [T.NumberOfFrames, 'IS'], [T.Rows, 'US'], [T.Columns, 'US'], [T.PixelSpacing, 'DS'], [T.BitsAllocated, 'US'],
  [T.BitsStored, 'US'], [T.PixelRepresentation, 'US'], [T.RescaleIntercept, 'DS'], [T.RescaleSlope, 'DS'],
  [T.PixelMeasuresSequence, 'SQ'], [T.PixelValueTransformationSequence, 'SQ'],
  // Common sequences elsewhere in headers (their contents are skipped, but they must parse as sequences).
  [0x00081115, 'SQ'], [0x00081140, 'SQ'], [0x00081199, 'SQ'], [0x00081250, 'SQ'], [0x00082112, 'SQ'],
  [0x00089215, 'SQ'], [0x00082218, 'SQ'], [0x00400275, 'SQ'], [0x00400260, 'SQ'], [0x30060010, 'SQ'],
  [0x30060020, 'SQ'], [0x30060039, 'SQ'], [0x30060040, 'SQ'], [0x30060080, 'SQ'], [0x300a00b0, 'SQ'],
  [0x300a0111, 'SQ'], [0x300c0002, 'SQ'], [0x00620002, 'SQ'], [0x00209221, 'SQ'], [0x00209222, 'SQ'],
  [0x00289132, 'SQ'], [0x00409096, 'SQ'], [0x00081032, 'SQ'], [0x00080082, 'SQ'], [0x00321064, 'SQ'],
  [0x00400008, 'SQ'], [0x00081111, 'SQ'], [0x00081155, 'UI'], [0x00081150, 'UI'], [T.SiemensNumberOfImagesInMosaic, 'US'], [T.FrameTime, 'DS'],
]);
