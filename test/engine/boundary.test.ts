/**
 * The architecture's two hard boundaries, enforced on the source tree:
 *  - main/ (the engine) is plain Node: no file imports or requires electron, in any form;
 *  - renderer/ reaches into main/ only with `import type` (contract types), never for code.
 * Files are parsed with the TypeScript compiler, so comments and strings that merely mention a module do not
 * count, and every import form (static, re-export, dynamic, require, import = require) does.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface ModuleUse {
  specifier: string;
  /** Erased at compile time: `import type`, `export type`, `typeof import('x')`. */
  typeOnly: boolean;
  kind: 'import' | 'export' | 'dynamic-import' | 'require' | 'import-equals' | 'import-type';
  line: number;
}

function scriptKind(file: string): ts.ScriptKind {
  if (/\.(m|c)?js$/.test(file)) return ts.ScriptKind.JS;
  if (/\.tsx$/.test(file)) return ts.ScriptKind.TSX;
  return ts.ScriptKind.TS;
}

/** Every module a source text refers to, with how. */
function moduleUses(text: string, fileName = 'file.ts'): ModuleUse[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const uses: ModuleUse[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const literal = (n: ts.Node | undefined): string | undefined =>
    n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) ? n.text : undefined;

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const spec = literal(node.moduleSpecifier);
      if (spec !== undefined) {
        const clause = node.importClause;
        // `import { type A, type B } from` still leaves a runtime import under verbatimModuleSyntax: not type-only.
        uses.push({ specifier: spec, typeOnly: clause?.isTypeOnly ?? false, kind: 'import', line: lineOf(node) });
      }
    } else if (ts.isExportDeclaration(node)) {
      const spec = literal(node.moduleSpecifier);
      if (spec !== undefined) uses.push({ specifier: spec, typeOnly: node.isTypeOnly, kind: 'export', line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node)) {
      const ref = node.moduleReference;
      if (ts.isExternalModuleReference(ref)) {
        const spec = literal(ref.expression);
        if (spec !== undefined) uses.push({ specifier: spec, typeOnly: node.isTypeOnly, kind: 'import-equals', line: lineOf(node) });
      }
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      const spec = ts.isLiteralTypeNode(arg) ? literal(arg.literal) : undefined;
      if (spec !== undefined) uses.push({ specifier: spec, typeOnly: true, kind: 'import-type', line: lineOf(node) });
    } else if (ts.isCallExpression(node)) {
      const spec = literal(node.arguments[0]);
      if (spec !== undefined) {
        if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          uses.push({ specifier: spec, typeOnly: false, kind: 'dynamic-import', line: lineOf(node) });
        } else if (
          (ts.isIdentifier(node.expression) && node.expression.text === 'require') ||
          // createRequire(import.meta.url)('x')
          ts.isCallExpression(node.expression)
        ) {
          uses.push({ specifier: spec, typeOnly: false, kind: 'require', line: lineOf(node) });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return uses;
}

const ELECTRON = /^(node:)?electron(\/(main|common|renderer|utility))?$/;

function walk(dir: string, accept: (file: string) => boolean): string[] {
  const out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, accept));
    else if (accept(p)) out.push(p);
  }
  return out;
}

function electronUses(text: string, fileName: string): ModuleUse[] {
  return moduleUses(text, fileName).filter((u) => ELECTRON.test(u.specifier));
}

/** The <script> blocks of a Vue single-file component, as TypeScript. */
function vueScripts(text: string): string {
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
}

/** Imports in a renderer file that resolve into main/ and are not erased at compile time. */
function valueImportsOfMain(file: string, text: string): ModuleUse[] {
  const mainDir = join(root, 'main') + sep;
  const source = file.endsWith('.vue') ? vueScripts(text) : text;
  return moduleUses(source, file.endsWith('.vue') ? `${file}.ts` : file).filter((u) => {
    if (u.typeOnly) return false;
    if (!u.specifier.startsWith('.')) return false;
    const target = resolve(dirname(file), u.specifier);
    return (target + sep).startsWith(mainDir) || target === mainDir.slice(0, -1);
  });
}

describe('the import scanner itself', () => {
  it('finds electron in every import form, with and without node:', () => {
    const src = [
      "import { app } from 'electron';",
      "import * as e from \"node:electron\";",
      "import 'electron/main';",
      "export { ipcMain } from 'electron';",
      "const a = await import('electron');",
      'const b = await import(`node:electron`);',
      "const c = require('electron');",
      "const d = require('node:electron');",
      "import f = require('electron');",
      "const g = createRequire(import.meta.url)('electron');",
      "import type { BrowserWindow } from 'electron';",
    ].join('\n');
    const found = electronUses(src, 'x.ts');
    expect(found.map((u) => u.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('ignores comments, strings and look-alike packages', () => {
    const src = [
      "// import { app } from 'electron';",
      "/* require('electron') */",
      "const s = \"require('electron')\";",
      "import x from 'electron-builder';",
      "const v = process.versions.electron;",
      "const p = require.resolve('electron/package.json');",
    ].join('\n');
    expect(electronUses(src, 'x.ts')).toEqual([]);
  });

  it('tells type-only imports of main/ from value imports', () => {
    const file = join(root, 'renderer', 'api', 'x.ts');
    const src = [
      "import type { Methods } from '../../main/contract/index.js';",
      "export type { Result } from '../../main/contract/index.js';",
      "type B = typeof import('../../main/contract/bridge.js').BRIDGE_GLOBAL;",
      "import { methods } from '../../main/contract/index.js';",
      "import { type Params } from '../../main/contract/index.js';",
      "import '../../main/contract/index.js';",
      "const m = await import('../../main/contract/index.js');",
      "export { methods as m2 } from '../../main/contract/index.js';",
      "import { ref } from 'vue';",
      "import { api } from './client.js';",
    ].join('\n');
    expect(valueImportsOfMain(file, src).map((u) => u.line)).toEqual([4, 5, 6, 7, 8]);
  });

  it('reads the script blocks of Vue components', () => {
    const file = join(root, 'renderer', 'components', 'X.vue');
    const src = `<template><div /></template>\n<script setup lang="ts">\nimport { methods } from '../../main/contract/index.js';\n</script>\n`;
    expect(valueImportsOfMain(file, src)).toHaveLength(1);
  });
});

describe('architecture boundaries', () => {
  it('main/ never imports or requires electron', () => {
    const files = walk(join(root, 'main'), (f) => /\.(m|c)?(t|j)s$/.test(f) && !f.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((f) =>
      electronUses(readFileSync(f, 'utf8'), f).map((u) => `${relative(root, f)}:${u.line} (${u.kind} '${u.specifier}')`),
    );
    expect(offenders).toEqual([]);
  });

  it('renderer/ imports from main/ only with `import type`', () => {
    const files = walk(join(root, 'renderer'), (f) => /\.(ts|tsx|vue)$/.test(f) && !f.endsWith('.d.ts'));
    const offenders = files.flatMap((f) =>
      valueImportsOfMain(f, readFileSync(f, 'utf8')).map((u) => `${relative(root, f)}:${u.line} (${u.kind} '${u.specifier}')`),
    );
    expect(offenders).toEqual([]);
  });
});
