import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blendRgbaOntoI420, blitI420, evenRect, fillI420, pixelAt, rgbaToI420, rgbToYuv } from '../../src/render/i420.js';
import { allocI420, i420Bytes, i420Planes } from '../../src/render/i420-frame.js';
import { scaleI420 } from '../../src/media/i420-scale.js';

describe('I420 helpers', () => {
  it('converts colours with BT.601 limited range (ffmpeg yuv420p values)', () => {
    assert.deepEqual(rgbToYuv({ r: 255, g: 0, b: 0 }), { y: 81, u: 90, v: 240 });
    assert.deepEqual(rgbToYuv({ r: 0, g: 255, b: 0 }), { y: 145, u: 54, v: 34 });
    assert.deepEqual(rgbToYuv({ r: 0, g: 0, b: 255 }), { y: 41, u: 240, v: 110 });
    assert.deepEqual(rgbToYuv({ r: 255, g: 255, b: 255 }), { y: 235, u: 128, v: 128 });
    assert.deepEqual(rgbToYuv({ r: 0, g: 0, b: 0 }), { y: 16, u: 128, v: 128 });
  });
  it('fills and converts whole frames', () => {
    const f = fillI420(allocI420(4, 4), 4, 4, { r: 255, g: 0, b: 0, a: 255 });
    assert.equal(f.length, i420Bytes(4, 4));
    assert.deepEqual(pixelAt(f, 4, 4, 3, 3), { y: 81, u: 90, v: 240 });
    const rgba = new Uint8Array(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set(i % 4 < 2 ? [0, 0, 255, 255] : [255, 255, 255, 255], i * 4);
    const c = rgbaToI420(rgba, 4, 4);
    assert.deepEqual(pixelAt(c, 4, 4, 0, 0), { y: 41, u: 240, v: 110 });
    assert.deepEqual(pixelAt(c, 4, 4, 3, 2), { y: 235, u: 128, v: 128 });
  });
  it('blits at even positions, clipped to the destination', () => {
    const dst = fillI420(allocI420(8, 8), 8, 8, { r: 0, g: 0, b: 0, a: 255 });
    const src = fillI420(allocI420(4, 4), 4, 4, { r: 0, g: 255, b: 0, a: 255 });
    blitI420(dst, 8, 8, src, 4, 4, 2, 4);
    const green = { y: 145, u: 54, v: 34 };
    const black = { y: 16, u: 128, v: 128 };
    assert.deepEqual(pixelAt(dst, 8, 8, 2, 4), green);
    assert.deepEqual(pixelAt(dst, 8, 8, 5, 7), green);
    assert.deepEqual(pixelAt(dst, 8, 8, 1, 4), black);
    assert.deepEqual(pixelAt(dst, 8, 8, 6, 4), black);
    assert.deepEqual(pixelAt(dst, 8, 8, 2, 3), black);
    // odd positions round down to even; a source hanging off the edge is clipped
    const d2 = fillI420(allocI420(8, 8), 8, 8, { r: 0, g: 0, b: 0, a: 255 });
    blitI420(d2, 8, 8, src, 4, 4, 7, -1);
    assert.deepEqual(pixelAt(d2, 8, 8, 6, 0), green);
    assert.deepEqual(pixelAt(d2, 8, 8, 7, 1), green);
    assert.deepEqual(pixelAt(d2, 8, 8, 5, 0), black);
    assert.deepEqual(pixelAt(d2, 8, 8, 6, 2), black, 'y=-1 rounds to -2: only two source rows land');
  });
  it('blends RGBA only where the sprite is', () => {
    const dst = fillI420(allocI420(8, 8), 8, 8, { r: 0, g: 0, b: 0, a: 255 });
    const sprite = new Uint8Array(4 * 4 * 4);
    for (let i = 0; i < 16; i++) {
      const x = i % 4,
        y = Math.floor(i / 4);
      if (x < 2 && y < 2) sprite.set([255, 255, 255, 255], i * 4);
      else if (x >= 2 && y >= 2) sprite.set([255, 255, 255, 128], i * 4);
    }
    blendRgbaOntoI420(dst, 8, 8, sprite, 4, 4, 2, 2);
    assert.deepEqual(pixelAt(dst, 8, 8, 2, 2), { y: 235, u: 128, v: 128 });
    assert.equal(pixelAt(dst, 8, 8, 4, 2).y, 16, 'transparent part leaves the frame alone');
    const half = pixelAt(dst, 8, 8, 5, 5).y;
    assert.ok(half > 120 && half < 130, `half-transparent white over black: ${half}`);
    assert.equal(pixelAt(dst, 8, 8, 0, 0).y, 16);
  });
  it('evenRect rounds to even pixels inside the canvas', () => {
    assert.deepEqual(evenRect({ x: 366, y: 116.9, width: 1188, height: 668.3 }, { width: 1920, height: 1080 }), {
      x: 366,
      y: 116,
      width: 1188,
      height: 670,
    });
    assert.deepEqual(evenRect({ x: -5, y: 1070, width: 20, height: 30 }, { width: 1920, height: 1080 }), {
      x: 0,
      y: 1070,
      width: 16,
      height: 10,
    });
  });
});

describe('I420 frame layout', () => {
  it('sizes chroma planes ceil(w/2) x ceil(h/2), as ffmpeg does for odd sizes', () => {
    assert.deepEqual(i420Planes(5, 3), {
      width: 5,
      height: 3,
      chromaWidth: 3,
      chromaHeight: 2,
      lumaBytes: 15,
      chromaBytes: 6,
      uOffset: 15,
      vOffset: 21,
      bytes: 27,
    });
    assert.equal(i420Bytes(640, 360), 640 * 360 * 1.5);
    assert.equal(allocI420(5, 3).length, 27);
  });
  it('fills, reads and converts odd sizes over every chroma sample', () => {
    const f = fillI420(allocI420(5, 3), 5, 3, { r: 255, g: 0, b: 0 });
    assert.deepEqual(pixelAt(f, 5, 3, 4, 2), { y: 81, u: 90, v: 240 });
    const rgba = new Uint8Array(5 * 3 * 4);
    for (let i = 0; i < 15; i++) rgba.set([0, 0, 255, 255], i * 4);
    const c = rgbaToI420(rgba, 5, 3);
    assert.equal(c.length, 27);
    assert.deepEqual(pixelAt(c, 5, 3, 4, 2), { y: 41, u: 240, v: 110 });
  });
  it('scales odd sizes with the same plane layout', () => {
    const src = { data: fillI420(allocI420(7, 5), 7, 5, { r: 0, g: 255, b: 0 }), width: 7, height: 5 };
    const scaled = scaleI420(src, 3, 3);
    assert.equal(scaled.data.length, i420Bytes(3, 3));
    assert.deepEqual(pixelAt(scaled.data, 3, 3, 2, 2), { y: 145, u: 54, v: 34 });
  });
});
