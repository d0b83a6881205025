import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLibrary } from '../../../main/library/library.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../../main/library/schema.js';
import { tempDir } from './helpers.js';

describe('workspace and catalogue schema', () => {
  it('creates the folder layout and migrates an empty catalogue to the latest version', () => {
    const dir = join(tempDir(), 'nested', 'ws');
    const lib = openLibrary(dir);
    for (const d of ['volumes', 'annotations', 'models', 'jobs', 'logs', 'catalog.sqlite']) expect(existsSync(join(dir, d))).toBe(true);
    expect(lib.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(lib.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(lib.db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (lib.db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    for (const t of ['patients', 'studies', 'series', 'volumes', 'annotations', 'annotated_slices', 'models', 'jobs', 'runs', 'schema_migrations']) {
      expect(tables).toContain(t);
    }
    const hist = lib.db.prepare('SELECT version, name FROM schema_migrations').all();
    expect(hist).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    lib.close();
  });

  it('reopening applies nothing twice', () => {
    const dir = tempDir();
    openLibrary(dir).close();
    const db = new Database(join(dir, 'catalog.sqlite'));
    expect(migrate(db)).toEqual([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(MIGRATIONS.length);
    db.close();
  });

  it('a failing migration rolls back entirely and leaves the version unchanged', () => {
    const db = new Database(':memory:');
    migrate(db);
    const bad = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'broken', sql: 'CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table;' }];
    expect(() => migrate(db, bad)).toThrow(/no_such_table/);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a catalogue written by a newer version', () => {
    const db = new Database(':memory:');
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    expect(() => migrate(db)).toThrow(/newer than this Pix2Rep/);
    db.close();
  });

  it('enforces foreign keys and value checks', () => {
    const lib = openLibrary(tempDir());
    expect(() =>
      lib.db.prepare("INSERT INTO studies (id, patient_id, uid, created_at) VALUES ('s', 'no-such-patient', 'u', 'now')").run(),
    ).toThrow(/FOREIGN KEY/);
    lib.db.prepare("INSERT INTO jobs (id, kind, created_at) VALUES ('j1', 'pretrain', 'now')").run();
    expect(() => lib.db.prepare("UPDATE jobs SET status = 'exploded' WHERE id = 'j1'").run()).toThrow(/CHECK/);
    lib.close();
  });
});
