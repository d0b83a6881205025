#!/usr/bin/env node
/**
 * Draws the placeholder app icon in code (no image files from elsewhere): a short-axis view of the left
 * ventricle as a radiologist knows it, bright blood pool inside a segmented myocardium ring, on the dark
 * reading-room background. 512×512 RGBA PNG; electron-builder derives the Windows and macOS icons from it.
 *
 * Usage: node scripts/make-icon.mjs [OUT.png]   (default: resources/icon.png)
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 512;
const SUPERSAMPLE = 4;

/** Colour (r, g, b, a in 0..1) of the icon at a point in [0, SIZE)². */
function shade(x, y) {
  const c = SIZE / 2;
  // Rounded square: the background tile.
  const half = SIZE * 0.46;
  const radius = SIZE * 0.11;
  const qx = Math.max(Math.abs(x - c) - (half - radius), 0);
  const qy = Math.max(Math.abs(y - c) - (half - radius), 0);
  if (Math.hypot(qx, qy) > radius) return [0, 0, 0, 0];
  const lift = 0.06 * (1 - y / SIZE);
  let rgb = [0.07 + lift, 0.09 + lift, 0.12 + lift];
  const cx = c;
  const cy = c + SIZE * 0.02;
  // Slightly elliptical like a real ventricle in short axis.
  const d = Math.hypot((x - cx) / 1.0, (y - cy) / 0.92);
  const outer = SIZE * 0.3;
  const inner = SIZE * 0.19;
  if (d <= inner) {
    const t = d / inner;
    rgb = [0.93 - 0.15 * t, 0.94 - 0.15 * t, 0.96 - 0.13 * t];
  } else if (d <= outer) {
    const t = (d - inner) / (outer - inner);
    rgb = [0.85 - 0.1 * t, 0.3 + 0.12 * t, 0.24];
  } else if (d <= outer + SIZE * 0.012) {
    rgb = [0.35, 0.82, 0.9]; // the contour a segmentation draws
  }
  return [...rgb, 1];
}

function render() {
  const rowBytes = SIZE * 4 + 1;
  const raw = Buffer.alloc(rowBytes * SIZE);
  const n = SUPERSAMPLE * SUPERSAMPLE;
  for (let y = 0; y < SIZE; y++) {
    raw[y * rowBytes] = 0; // filter: none
    for (let x = 0; x < SIZE; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const [pr, pg, pb, pa] = shade(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE);
          r += pr * pa; g += pg * pa; b += pb * pa; a += pa;
        }
      }
      const o = y * rowBytes + 1 + x * 4;
      // Un-premultiply the averaged colour so anti-aliased edges keep their hue.
      raw[o] = a ? Math.round((255 * r) / a) : 0;
      raw[o + 1] = a ? Math.round((255 * g) / a) : 0;
      raw[o + 2] = a ? Math.round((255 * b) / a) : 0;
      raw[o + 3] = Math.round((255 * a) / n);
    }
  }
  return raw;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export function iconPng() {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(render(), { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

export function writeIcon(file) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, iconPng());
  renameSync(tmp, file);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const out = resolve(process.argv[2] ?? resolve(root, 'resources', 'icon.png'));
  writeIcon(out);
  console.log(`make-icon: wrote ${out}`);
}
