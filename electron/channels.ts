/** IPC channel names shared by the preload and the main process; one place so they cannot drift apart. */
export const CHANNELS = {
  /** renderer → main (invoke): one request envelope (JSON) → its response envelope (JSON). */
  request: 'pix2rep:request',
  /** main → renderer (send): one event envelope (JSON). */
  event: 'pix2rep:event',
  /** renderer → main (invoke): native folder picker → absolute paths. */
  openFolder: 'pix2rep:open-folder',
  /** renderer → main (invoke): native file picker with optional filters → absolute paths. */
  openFiles: 'pix2rep:open-files',
} as const;

/** Largest request the main process relays; a bigger one is refused rather than copied between processes. */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
