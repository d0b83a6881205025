/**
 * Pure checks the shell applies to what reaches it from a renderer. No electron import: unit-tested in Node.
 */

/**
 * True when `url` is the app's own page: the same file:// path as `indexUrl` (query and hash may differ,
 * the UI keeps its view in the hash). Anything else (another file, http, a data: URL, a blank frame) is not.
 */
export function isAppPageUrl(url: string, indexUrl: string): boolean {
  let u: URL;
  let index: URL;
  try {
    u = new URL(url);
    index = new URL(indexUrl);
  } catch {
    return false;
  }
  return u.protocol === 'file:' && index.protocol === 'file:' && u.host === index.host && u.pathname === index.pathname;
}

export interface FileFilter {
  name: string;
  extensions: string[];
}

/**
 * The file filters a renderer asked for, checked: a list of at most 20 `{ name, extensions }` with short
 * names and plain extensions (letters, digits, dots, `*`). Anything else is refused with the reason, so a
 * confused or hostile page cannot feed odd values to the native dialog.
 */
export function checkFileFilters(value: unknown): FileFilter[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > 20) throw new TypeError('file filters must be a list of at most 20 entries');
  return value.map((f, i) => {
    if (typeof f !== 'object' || f === null) throw new TypeError(`file filter ${i} is not an object`);
    const { name, extensions } = f as { name?: unknown; extensions?: unknown };
    if (typeof name !== 'string' || name.length === 0 || name.length > 100) {
      throw new TypeError(`file filter ${i}: name must be a string of 1 to 100 characters`);
    }
    if (!Array.isArray(extensions) || extensions.length === 0 || extensions.length > 50) {
      throw new TypeError(`file filter ${i}: extensions must be a list of 1 to 50 entries`);
    }
    const exts = extensions.map((e, j) => {
      if (typeof e !== 'string' || !/^(\*|[A-Za-z0-9]+(\.[A-Za-z0-9]+)*)$/.test(e)) {
        throw new TypeError(`file filter ${i}: extension ${j} must be "*" or like "nii.gz" (no leading dot)`);
      }
      return e;
    });
    return { name, extensions: exts };
  });
}

/** The request id of a JSON request envelope, when one can be read, so a refusal can still be matched. */
export function requestIdOf(message: unknown): string | number | null {
  if (typeof message !== 'string') return null;
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object' && 'id' in parsed) {
      const id = (parsed as { id: unknown }).id;
      if (typeof id === 'string' || typeof id === 'number') return id;
    }
  } catch {
    /* not JSON: no id */
  }
  return null;
}

/** The method name of a JSON request envelope, for messages to the user; '' when unreadable. */
export function methodOf(message: string): string {
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object' && 'method' in parsed) {
      const m = (parsed as { method: unknown }).method;
      if (typeof m === 'string') return m;
    }
  } catch {
    /* not JSON */
  }
  return '';
}
