/**
 * The renderer's Content-Security-Policy. Scripts only from the app's own files (no inline script, no eval;
 * WebAssembly compilation is allowed because image decoders and tfjs backends are wasm). Inline styles are
 * allowed because Vue and vtk.js set style attributes at run time. No frames, no plugins, no forms, and
 * connections only to the page's own origin: in the browser twin that is the 127.0.0.1 server and its
 * WebSocket, in Electron it is nothing at all since the engine is reached through the preload bridge.
 */
const directives: [string, string][] = [
  ['default-src', "'none'"],
  ['script-src', "'self' 'wasm-unsafe-eval'"],
  ['style-src', "'self' 'unsafe-inline'"],
  ['img-src', "'self' data: blob:"],
  ['font-src', "'self' data:"],
  ['connect-src', "'self' data: blob:"],
  ['worker-src', "'self' blob:"],
  ['manifest-src', "'self'"],
  ['media-src', "'none'"],
  ['object-src', "'none'"],
  ['frame-src', "'none'"],
  ['child-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
];

/** For a `<meta http-equiv="Content-Security-Policy">` tag (browsers ignore frame-ancestors there). */
export const CSP_META = directives.map(([k, v]) => `${k} ${v}`).join('; ');

/** For the Content-Security-Policy response header. */
export const CSP_HEADER = `${CSP_META}; frame-ancestors 'none'`;
