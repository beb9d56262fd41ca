import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { pixelAt, rgbToYuv } from '../../src/render/i420.js';
import { tileVideoFilter } from '../../src/render/tile-filter.js';

/** Runs ffmpeg on a synthetic 640x360 source (left half red, right half blue) and returns one I420 frame. */
function render(filter: string, source = '640x360'): Buffer {
  const [sw] = source.split('x').map(Number) as [number];
  const r = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `color=c=red:s=${source}:d=1[a];color=c=blue:s=${source}:d=1[b];[a][b]overlay=x=${sw / 2}`,
      '-frames:v',
      '1',
      '-vf',
      filter,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      '-',
    ],
    { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}
const near = (a: { y: number; u: number; v: number }, rgb: { r: number; g: number; b: number }): boolean => {
  const b = rgbToYuv(rgb);
  return Math.abs(a.y - b.y) <= 4 && Math.abs(a.u - b.u) <= 4 && Math.abs(a.v - b.v) <= 4;
};

describe('tileVideoFilter (with ffmpeg)', () => {
  const bg = { r: 0x1d, g: 0x29, b: 0x38, a: 255 };
  it('contain letterboxes a 16:9 source in a 4:3 tile with the video background', () => {
    const out = render(tileVideoFilter({ width: 400, height: 300, fit: 'contain', mirror: false, videoBackground: bg }));
    assert.equal(out.length, 400 * 300 * 1.5);
    assert.ok(near(pixelAt(out, 400, 300, 200, 10), bg), 'top band is the video background');
    assert.ok(near(pixelAt(out, 400, 300, 100, 150), { r: 255, g: 0, b: 0 }), 'left half red');
    assert.ok(near(pixelAt(out, 400, 300, 300, 150), { r: 0, g: 0, b: 255 }), 'right half blue');
  });
  it('cover fills the tile and crops the sides; mirror flips', () => {
    const out = render(tileVideoFilter({ width: 300, height: 300, fit: 'cover', mirror: true, videoBackground: bg }));
    assert.equal(out.length, 300 * 300 * 1.5);
    assert.ok(near(pixelAt(out, 300, 300, 60, 2), { r: 0, g: 0, b: 255 }), 'no letterbox band at the top');
    assert.ok(near(pixelAt(out, 300, 300, 240, 297), { r: 255, g: 0, b: 0 }), 'no letterbox band at the bottom');
    assert.ok(near(pixelAt(out, 300, 300, 20, 150), { r: 0, g: 0, b: 255 }), 'mirrored: blue on the left');
    assert.ok(near(pixelAt(out, 300, 300, 280, 150), { r: 255, g: 0, b: 0 }), 'mirrored: red on the right');
  });
});
