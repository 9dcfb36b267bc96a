import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { tensor, memory } from '../../src/engine/index.ts';
import {
  type RawImage, readImage, readImageInfo, writeImage, writeMask, imageToTensor, tensorToImage, decodeBmp, encodeBmp, DataError,
} from '../../src/data/index.ts';
import { tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir();
after(cleanup);

function synthetic(width: number, height: number, channels: 1 | 2 | 3 | 4, bitDepth: 8 | 16): RawImage {
  const n = width * height * channels;
  const data = bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = bitDepth === 16 ? (i * 2731 + 17) % 65536 : (i * 37 + 5) % 256;
  if (channels === 2 || channels === 4) for (let p = 0; p < width * height; p++) data[p * channels + channels - 1] = bitDepth === 16 ? 1000 + p : 100 + (p % 100);
  return { data, width, height, channels, bitDepth };
}

const sameSamples = (a: RawImage, b: RawImage): void => {
  assert.equal(b.width, a.width);
  assert.equal(b.height, a.height);
  assert.equal(b.channels, a.channels);
  assert.equal(b.bitDepth, a.bitDepth);
  assert.deepEqual(Array.from(b.data), Array.from(a.data));
};

describe('lossless round trips keep every sample', () => {
  for (const ext of ['png', 'tif']) {
    for (const bitDepth of [8, 16] as const) {
      for (const channels of [1, 2, 3, 4] as const) {
        test(`${ext} ${bitDepth}-bit ${channels} channel(s)`, async () => {
          const img = synthetic(7, 5, channels, bitDepth);
          const path = join(dir, `rt_${bitDepth}_${channels}.${ext}`);
          await writeImage(path, img);
          sameSamples(img, await readImage(path));
          const info = await readImageInfo(path);
          assert.deepEqual([info.width, info.height, info.channels, info.bitDepth], [7, 5, channels, bitDepth]);
        });
      }
    }
  }
  for (const channels of [1, 3, 4] as const) {
    test(`bmp 8-bit ${channels} channel(s)`, async () => {
      const img = synthetic(7, 5, channels, 8); // width 7: rows need padding
      const path = join(dir, `rt_${channels}.bmp`);
      await writeImage(path, img);
      sameSamples(img, await readImage(path));
      assert.equal((await readImageInfo(path)).format, 'bmp');
    });
  }
  test('gif 8-bit grey (a palette of 100 grey levels)', async () => {
    const img: RawImage = { data: new Uint8Array(400).map((_, i) => ((i * 7) % 100) * 2), width: 20, height: 20, channels: 1, bitDepth: 8 };
    const path = join(dir, 'rt.gif');
    await writeImage(path, img);
    sameSamples(img, await readImage(path, { channels: 1 }));
  });
  test('webp lossless RGB', async () => {
    const img = synthetic(9, 4, 3, 8);
    const path = join(dir, 'rt.webp');
    await writeImage(path, img);
    sameSamples(img, await readImage(path));
  });
});

test('jpeg round trip is close, not exact', async () => {
  const w = 32, h = 32;
  const data = new Uint8Array(w * h * 3).map((_, i) => 60 + ((i / 3) % 32) * 4);
  const path = join(dir, 'smooth.jpg');
  await writeImage(path, { data, width: w, height: h, channels: 3, bitDepth: 8 }, { quality: 95 });
  const back = await readImage(path);
  const maxDiff = Math.max(...Array.from(back.data, (v, i) => Math.abs(v - data[i]!)));
  assert.ok(maxDiff <= 12, `max difference ${maxDiff}`);
});

test('channel conversion: grey → RGB replicates, RGB → grey is luma, alpha dropped', async () => {
  const path = join(dir, 'grey.png');
  await writeImage(path, { data: new Uint8Array([0, 100, 200, 255]), width: 2, height: 2, channels: 1, bitDepth: 8 });
  const rgb = await readImage(path, { channels: 3 });
  assert.deepEqual(Array.from(rgb.data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  const rgba = synthetic(3, 2, 4, 8);
  const p2 = join(dir, 'rgba.png');
  await writeImage(p2, rgba);
  assert.equal((await readImage(p2, { channels: 3 })).channels, 3);
  const red = join(dir, 'red.png');
  await writeImage(red, { data: new Uint8Array([255, 0, 0]), width: 1, height: 1, channels: 3, bitDepth: 8 });
  const luma = (await readImage(red, { channels: 1 })).data[0]!;
  assert.equal(luma, 76); // round(0.299 * 255), as PIL's convert('L')
});

test('imageToTensor gives float32 [C,H,W]; tensorToImage inverts it', async () => {
  const img = synthetic(5, 3, 3, 16);
  const t = imageToTensor(img);
  assert.deepEqual(t.shape, [3, 3, 5]);
  assert.equal(t.dtype, 'float32');
  assert.equal(t.select(0, 0).select(0, 1).toArray()[2], img.data[(1 * 5 + 2) * 3]);
  sameSamples(img, tensorToImage(t, { bitDepth: 16 }));
  t.dispose();
});

test('BMP decoder: 1-bit and 4-bit palettes, top-down rows', () => {
  // 3x2 1-bit top-down: palette [black, white]; row 0 = 1 0 1, row 1 = 0 1 0
  const w = 3, h = 2, stride = 4;
  const header = (bpp: number, colors: number): Buffer => {
    const b = Buffer.alloc(14 + 40 + colors * 4);
    b.write('BM', 0, 'latin1');
    b.writeUInt32LE(14 + 40 + colors * 4, 10);
    b.writeUInt32LE(40, 14); b.writeInt32LE(w, 18); b.writeInt32LE(-h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(bpp, 28);
    b.writeUInt32LE(colors, 46);
    return b;
  };
  const one = header(1, 2);
  one.set([255, 255, 255, 0], 54 + 4);
  const rows1 = Buffer.from([0b10100000, 0, 0, 0, 0b01000000, 0, 0, 0]);
  const d1 = decodeBmp(Buffer.concat([one, rows1]));
  assert.equal(d1.channels, 1);
  assert.deepEqual(Array.from(d1.data), [255, 0, 255, 0, 255, 0]);
  // 4-bit with a colour palette: index 0 red, 1 green, 2 blue
  const four = header(4, 3);
  four.set([0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0], 54);
  const rows4 = Buffer.from([0x01, 0x20, 0, 0, 0x21, 0x00, 0, 0]);
  const d4 = decodeBmp(Buffer.concat([four, rows4]));
  assert.equal(d4.channels, 3);
  assert.deepEqual(Array.from(d4.data), [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
  assert.equal(stride, 4);
  // encode → decode is the identity
  const rgb = synthetic(5, 3, 3, 8);
  assert.deepEqual(Array.from(decodeBmp(encodeBmp(rgb as RawImage & { data: Uint8Array })).data), Array.from(rgb.data));
});

test('BMP with RLE compression is rejected by name', () => {
  const b = Buffer.alloc(14 + 40 + 1024 + 8);
  b.write('BM', 0, 'latin1'); b.writeUInt32LE(14 + 40 + 1024, 10); b.writeUInt32LE(40, 14);
  b.writeInt32LE(2, 18); b.writeInt32LE(2, 22); b.writeUInt16LE(8, 28); b.writeUInt32LE(1, 30);
  assert.throws(() => decodeBmp(b, 'x.bmp'), (e: unknown) => e instanceof DataError && e.code === 'UNSUPPORTED' && /RLE8/.test(e.message));
});

test('writeMask: binary 0/255, 8-bit labels, 16-bit labels; lossy formats refused', async () => {
  const m = tensor(new Uint8Array([0, 1, 2, 0, 0, 3]), [2, 3]);
  const bin = join(dir, 'mask_bin.png');
  await writeMask(bin, m);
  assert.deepEqual(Array.from((await readImage(bin)).data), [0, 255, 255, 0, 0, 255]);
  const lab = join(dir, 'mask_lab.png');
  await writeMask(lab, m, { mode: 'labels' });
  const l8 = await readImage(lab);
  assert.equal(l8.bitDepth, 8);
  assert.deepEqual(Array.from(l8.data), [0, 1, 2, 0, 0, 3]);
  const big = tensor(new Int32Array([0, 300, 65535, 7]), [2, 2]);
  const lab16 = join(dir, 'mask_lab16.png');
  await writeMask(lab16, big, { mode: 'labels' });
  const l16 = await readImage(lab16);
  assert.equal(l16.bitDepth, 16);
  assert.deepEqual(Array.from(l16.data), [0, 300, 65535, 7]);
  await assert.rejects(writeMask(join(dir, 'mask.jpg'), m), /lossless/);
  await assert.rejects(writeImage(join(dir, 'x16.jpg'), synthetic(2, 2, 1, 16)), /16-bit/);
  m.dispose(); big.dispose();
});

test('missing and corrupt files fail with one-line errors', async () => {
  await assert.rejects(readImage(join(dir, 'nope.png')), (e: unknown) => e instanceof DataError && e.code === 'NOT_FOUND');
  const bad = join(dir, 'bad.png');
  writeFileSync(bad, 'this is not a png');
  await assert.rejects(readImage(bad), (e: unknown) => e instanceof DataError && e.code === 'UNREADABLE' && !e.message.includes('\n') && e.message.includes('bad.png'));
  const truncated = join(dir, 'trunc.png');
  const full = join(dir, 'full.png');
  await writeImage(full, synthetic(64, 64, 3, 8));
  const bytes = (await import('node:fs')).readFileSync(full);
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  await assert.rejects(readImage(truncated), (e: unknown) => e instanceof DataError && e.code === 'UNREADABLE');
});

test('no tensors leak from image conversion', async () => {
  const before = memory().liveTensors;
  const img = synthetic(6, 4, 2, 8);
  const path = join(dir, 'ga.png');
  await writeImage(path, img);
  await readImage(path); // grey+alpha goes through the engine
  const t = imageToTensor(img);
  tensorToImage(t);
  t.dispose();
  assert.ok(memory().liveTensors <= before); // (garbage collection may free earlier handles meanwhile)
});
