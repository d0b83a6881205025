import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { PatientIdentity, Phase, SeriesIdentity, StudyIdentity } from '../catalog.js';
import { stripNiftiExt } from './pair.js';

export interface NiftiIdentity {
  patient: PatientIdentity;
  study: StudyIdentity;
  series: SeriesIdentity;
  volumeName: string;
  phase: Phase | null;
}

/** ED/ES (1-based frame numbers) and the other fields of an ACDC `Info.cfg`. */
export function parseInfoCfg(text: string): { ed: number | null; es: number | null; group: string | null } {
  const field = (k: string) => {
    const m = new RegExp(`^\\s*${k}\\s*:\\s*(\\S+)`, 'mi').exec(text);
    return m ? m[1]! : null;
  };
  const num = (k: string) => {
    const v = field(k);
    const n = v === null ? NaN : Number(v);
    return Number.isInteger(n) ? n : null;
  };
  return { ed: num('ED'), es: num('ES'), group: field('Group') };
}

const ACDC_PATIENT = /^patient\d+$/i;

/**
 * Who and what a NIfTI file is. ACDC layout (`patientNNN/patientNNN_…nii.gz`): patient and study are the
 * patient folder, one series holds its frames, and `Info.cfg` gives the phase of `frameNN` files. Any other
 * NIfTI: the patient is the parent folder's name, and the file is its own series. Study uids of plain NIfTI
 * files hash the folder path, so two unrelated folders with the same name stay apart.
 */
export function niftiIdentity(path: string, readText: (p: string) => string | null = tryRead): NiftiIdentity {
  const dir = dirname(path);
  const folder = basename(dir);
  const stem = stripNiftiExt(basename(path));
  if (ACDC_PATIENT.test(folder) && stem.toLowerCase().startsWith(folder.toLowerCase())) {
    const cfgText = readText(join(dir, 'Info.cfg'));
    const cfg = cfgText ? parseInfoCfg(cfgText) : { ed: null, es: null, group: null };
    const m = /_frame(\d+)$/i.exec(stem);
    let phase: Phase | null = null;
    if (m) {
      const n = Number(m[1]);
      if (n === cfg.ed) phase = 'ED';
      else if (n === cfg.es) phase = 'ES';
    }
    const id = folder.toLowerCase();
    return {
      patient: { key: `acdc:${id}`, name: folder },
      study: { uid: `acdc:${id}`, date: null, description: cfg.group ? `ACDC ${cfg.group}` : 'ACDC' },
      series: { uid: `acdc:${id}:cine`, number: 1, description: 'short-axis cine', modality: 'MR' },
      volumeName: stem,
      phase,
    };
  }
  const dirKey = createHash('sha256').update(dir).digest('hex').slice(0, 16);
  return {
    patient: { key: `nifti:${dirKey}`, name: folder || stem },
    study: { uid: `nifti:${dirKey}`, date: null, description: folder },
    series: { uid: `nifti:${dirKey}:${stem}`, number: null, description: stem, modality: '' },
    volumeName: stem,
    phase: null,
  };
}

function tryRead(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}
