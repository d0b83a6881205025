/**
 * Electron security checklist, applied to the session and to every webContents the app ever creates:
 * CSP on every response, no network, no permissions, no navigation, no new windows, no <webview>.
 * Patient images never leave the machine, so nothing here opens a link in an external browser either.
 */
import { app, type Session, type WebContents } from 'electron';
import { CSP_HEADER } from './csp.js';
import type { LogLine } from './log.js';
import { isAppPageUrl } from './trust.js';

export function hardenSession(ses: Session, log: LogLine): void {
  ses.setPermissionRequestHandler((_wc, permission, callback) => {
    log(`security: denied permission request "${permission}"`);
    callback(false);
  });
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);

  // Defence in depth behind connect-src: the renderer has no reason to reach any network host.
  // The scheme is checked in code rather than with a URL-pattern filter, whose accepted schemes vary by version.
  ses.webRequest.onBeforeRequest((details, callback) => {
    const remote = /^(https?|wss?|ftp):/i.test(details.url);
    if (remote) log(`security: blocked a network request to ${details.url}`);
    callback({ cancel: remote });
  });

  // The header form of the CSP; index.html carries the same policy as a meta tag for file:// loads, where
  // Chromium may not run header hooks.
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [CSP_HEADER],
        'X-Content-Type-Options': ['nosniff'],
      },
    });
  });
}

/** Called for every webContents created anywhere in the app (windows, DevTools, anything a page tries). */
export function hardenContents(contents: WebContents, indexUrl: string, log: LogLine): void {
  contents.on('will-navigate', (event, url) => {
    if (isAppPageUrl(url, indexUrl)) return;
    event.preventDefault();
    log(`security: blocked navigation to ${url}`);
  });
  contents.on('will-frame-navigate', (event) => {
    if (event.isMainFrame) return; // handled by will-navigate above
    event.preventDefault();
    log(`security: blocked a frame navigation to ${event.url}`);
  });
  contents.on('will-redirect', (event, url) => {
    event.preventDefault();
    log(`security: blocked a redirect to ${url}`);
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('security: blocked a <webview>');
  });
  contents.setWindowOpenHandler(({ url }) => {
    log(`security: blocked a new window for ${url}`);
    return { action: 'deny' };
  });
}

export function installContentsHardening(indexUrl: string, log: LogLine): void {
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, indexUrl, log));
}
