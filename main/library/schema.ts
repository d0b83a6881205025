import type Database from 'better-sqlite3';

/**
 * Catalogue schema as an ordered list of migrations. `PRAGMA user_version` holds the number of applied
 * migrations; `schema_migrations` keeps a readable history. Each migration runs in its own transaction, so a
 * crash mid-upgrade leaves the previous version intact. Never edit a shipped migration: append a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial catalogue',
    sql: `
CREATE TABLE schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
);

CREATE TABLE patients (
  id          TEXT PRIMARY KEY,
  -- Identity used to merge imports: DICOM PatientID(+name), ACDC folder, or the source folder for plain NIfTI.
  patient_key TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

CREATE TABLE studies (
  id          TEXT PRIMARY KEY,
  patient_id  TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  uid         TEXT NOT NULL UNIQUE,
  date        TEXT,
  description TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL
);
CREATE INDEX studies_patient ON studies(patient_id);

CREATE TABLE series (
  id          TEXT PRIMARY KEY,
  study_id    TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  uid         TEXT NOT NULL UNIQUE,
  number      INTEGER,
  description TEXT NOT NULL DEFAULT '',
  modality    TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL
);
CREATE INDEX series_study ON series(study_id);

CREATE TABLE volumes (
  id             TEXT PRIMARY KEY,
  series_id      TEXT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  dim_i          INTEGER NOT NULL CHECK (dim_i > 0),
  dim_j          INTEGER NOT NULL CHECK (dim_j > 0),
  dim_k          INTEGER NOT NULL CHECK (dim_k > 0),
  frames         INTEGER NOT NULL CHECK (frames > 0),
  spacing        TEXT NOT NULL,  -- JSON [si, sj, sk] mm
  origin         TEXT NOT NULL,  -- JSON [x, y, z] LPS mm
  direction      TEXT NOT NULL,  -- JSON 9 numbers, row-major, columns = i, j, k axes (LPS)
  frame_interval REAL,
  dtype          TEXT NOT NULL,
  content_sha256 TEXT NOT NULL UNIQUE,
  -- Hash of the source files' bytes: lets a re-import skip decoding (DICOM) when nothing changed.
  source_sha256  TEXT,
  source_paths   TEXT NOT NULL,  -- JSON array of absolute paths at import time
  source_format  TEXT NOT NULL CHECK (source_format IN ('nifti', 'dicom')),
  phase          TEXT CHECK (phase IN ('ED', 'ES')),
  stored_path    TEXT NOT NULL,  -- relative to the workspace root
  stored_bytes   INTEGER NOT NULL,
  created_at     TEXT NOT NULL
);
CREATE INDEX volumes_series ON volumes(series_id);
CREATE INDEX volumes_source ON volumes(source_sha256);

CREATE TABLE models (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  kind       TEXT NOT NULL,      -- pretrain | probe | finetune | mean-teacher | supervised
  parent_id  TEXT REFERENCES models(id) ON DELETE SET NULL,
  status     TEXT NOT NULL DEFAULT 'created',
  config     TEXT NOT NULL DEFAULT '{}',
  metrics    TEXT NOT NULL DEFAULT '{}',
  path       TEXT,              -- folder under models/, relative to the workspace root
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE annotations (
  id             TEXT PRIMARY KEY,
  volume_id      TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
  source         TEXT NOT NULL CHECK (source IN ('imported', 'manual', 'predicted')),
  model_id       TEXT REFERENCES models(id) ON DELETE SET NULL,
  name           TEXT NOT NULL DEFAULT '',
  labels         TEXT NOT NULL,  -- JSON [{value, name, color}]
  content_sha256 TEXT NOT NULL,
  source_path    TEXT,           -- the imported label map, when source = imported
  stored_path    TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX annotations_volume ON annotations(volume_id);
-- Re-importing a label map must not duplicate it; drawn or predicted copies of the same voxels may exist.
CREATE UNIQUE INDEX annotations_imported_content ON annotations(volume_id, content_sha256) WHERE source = 'imported';

CREATE TABLE annotated_slices (
  annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
  frame         INTEGER NOT NULL CHECK (frame >= 0),
  slice         INTEGER NOT NULL CHECK (slice >= 0),
  PRIMARY KEY (annotation_id, frame, slice)
) WITHOUT ROWID;

CREATE TABLE jobs (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,    -- pretrain | train | predict | import | bench
  status      TEXT NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
  config      TEXT NOT NULL DEFAULT '{}',
  progress    REAL,
  error       TEXT,
  path        TEXT,            -- folder under jobs/, relative to the workspace root
  created_at  TEXT NOT NULL,
  started_at  TEXT,
  finished_at TEXT
);

CREATE TABLE runs (
  id         TEXT PRIMARY KEY,
  job_id     TEXT REFERENCES jobs(id) ON DELETE SET NULL,
  model_id   TEXT REFERENCES models(id) ON DELETE SET NULL,
  kind       TEXT NOT NULL,
  status     TEXT NOT NULL DEFAULT 'created',
  config     TEXT NOT NULL DEFAULT '{}',
  metrics    TEXT NOT NULL DEFAULT '{}',
  path       TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
`,
  },
  {
    version: 2,
    name: 'job queue: states, priority, schedules, workers, checkpoints, progress',
    // SQLite cannot change a CHECK constraint in place: jobs and runs are rebuilt (runs refers to jobs, so it is
    // rebuilt too, after the rename pointed its foreign key at jobs_old). Existing rows are carried over.
    sql: `
ALTER TABLE runs RENAME TO runs_old;
ALTER TABLE jobs RENAME TO jobs_old;

CREATE TABLE jobs (
  id             TEXT PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('import', 'pretrain', 'train', 'predict', 'embed', 'bench')),
  name           TEXT NOT NULL DEFAULT '',
  status         TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled', 'interrupted')),
  priority       INTEGER NOT NULL DEFAULT 0,   -- higher starts first; ties by creation order
  seq            INTEGER NOT NULL DEFAULT 0,   -- creation order (created_at can tie within a millisecond)
  config         TEXT NOT NULL DEFAULT '{}',   -- JSON parameters of the job's kind
  schedule       TEXT,                         -- JSON {start, stop, notBefore, notAfter} or NULL
  auto_resume    INTEGER NOT NULL DEFAULT 1,   -- resume automatically when the runner starts after a crash
  requested      TEXT CHECK (requested IN ('pause', 'cancel')),  -- control asked by another process
  waiting        TEXT,                         -- why a queued job does not start yet (schedule window)
  progress       REAL,                         -- 0..1 when the total is known
  step           INTEGER NOT NULL DEFAULT 0,
  total_steps    INTEGER,
  epoch          REAL,
  checkpoint_step INTEGER,                     -- step of the newest verified checkpoint
  checkpoint     TEXT,                         -- its path, relative to the workspace root
  worker_pid     INTEGER,
  runner_pid     INTEGER,
  heartbeat_at   TEXT,
  attempts       INTEGER NOT NULL DEFAULT 0,   -- worker starts
  error          TEXT,                         -- plain-words failure or interruption reason
  result         TEXT,                         -- JSON outcome of a finished job
  path           TEXT,                         -- folder under jobs/, relative to the workspace root
  log_path       TEXT,                         -- logs/job-<id>.log, relative to the workspace root
  model_id       TEXT REFERENCES models(id) ON DELETE SET NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at     TEXT,
  finished_at    TEXT
);
CREATE INDEX jobs_pick ON jobs(status, priority DESC, seq);

INSERT INTO jobs (id, kind, status, config, progress, error, path, created_at, updated_at, started_at, finished_at, seq)
  SELECT id, CASE WHEN kind IN ('import', 'pretrain', 'train', 'predict', 'embed', 'bench') THEN kind ELSE 'bench' END,
         status, config, progress, error, path, created_at, created_at, started_at, finished_at, rowid
  FROM jobs_old;

CREATE TABLE runs (
  id          TEXT PRIMARY KEY,
  job_id      TEXT REFERENCES jobs(id) ON DELETE SET NULL,
  model_id    TEXT REFERENCES models(id) ON DELETE SET NULL,
  kind        TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'created',
  config      TEXT NOT NULL DEFAULT '{}',
  metrics     TEXT NOT NULL DEFAULT '{}',
  path        TEXT,
  backend     TEXT,
  worker_pid  INTEGER,
  start_step  INTEGER,                         -- the checkpoint step this run resumed from (0 for a fresh start)
  end_step    INTEGER,
  reason      TEXT,                            -- why it ended, in plain words
  created_at  TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX runs_job ON runs(job_id);

INSERT INTO runs (id, job_id, model_id, kind, status, config, metrics, path, created_at, finished_at)
  SELECT id, job_id, model_id, kind, status, config, metrics, path, created_at, finished_at FROM runs_old;

DROP TABLE runs_old;
DROP TABLE jobs_old;

-- One row per reported training step (kind 'step') or validation pass (kind 'validation'). Keyed by step, so
-- steps repeated after resuming from an older checkpoint replace the lost ones and the curve stays continuous.
CREATE TABLE job_progress (
  job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  kind            TEXT NOT NULL CHECK (kind IN ('step', 'validation')),
  step            INTEGER NOT NULL,
  run_id          TEXT,
  epoch           REAL,
  loss            REAL,
  smoothed_loss   REAL,
  val_loss        REAL,
  slices_per_s    REAL,
  at              TEXT NOT NULL,
  PRIMARY KEY (job_id, kind, step)
) WITHOUT ROWID;
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Bring the catalogue to the latest schema. Returns the versions applied now (empty when up to date). */
export function migrate(db: Database.Database, migrations: Migration[] = MIGRATIONS): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > latest) {
    throw new Error(
      `the workspace catalogue is at schema version ${current}, newer than this Pix2Rep understands (${latest}); update Pix2Rep`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      // user_version is written inside the same transaction, so it moves only if the migration committed.
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
