// OpenCV's cv2.resize(img, (outW, outH), interpolation=cv2.INTER_AREA) of 8-bit images, bit-exact with OpenCV 4.6
// as Debian 12's python3-opencv builds it (no IPP, x86-64 SSE2 baseline), which LiteMedSAM uses to bring the
// longest side to 256. Hand-written because no npm library reproduces OpenCV's INTER_AREA byte for byte (sharp /
// libvips, jimp and canvas all use other kernels and roundings). It mirrors imgproc/src/resize.cpp:
//
//  - cv::resize: same size in and out is a copy; inv_scale = dst/src, scale = 1/inv_scale (both doubles).
//  - scale_x >= 1 and scale_y >= 1 (downscale or keep, both axes):
//    - both scales integers (|scale - cvRound(scale)| < DBL_EPSILON): resizeAreaFast_. The 2x2 case sums the four
//      pixels and rounds with (s + 2) >> 2 (ResizeAreaFastVec, whose SIMD computes the same); other integer scales
//      sum the kx·ky pixels in int and store saturate_cast<uchar>(sum * (1.f / area)) in float (cvRound: round half
//      to even). With an explicit dsize an integer scale means src = scale · dst exactly, so the partial-cell edge
//      code of resizeAreaFast_Invoker is unreachable and not reproduced.
//    - otherwise: computeResizeAreaTab (double geometry, float weights) and ResizeArea_Invoker<uchar, float>: per
//      source row, buf[dx] += S[sx] * alpha in float32 in table order; rows are combined as sum[dx] += beta * buf[dx]
//      and a destination row is stored (saturate_cast, round half to even) when the destination row changes.
//  - any scale < 1 (enlarging along an axis): the INTER_LINEAR machinery with area_mode coefficients
//    (sx = floor(dx·scale); fx = (dx+1) - (sx+1)·inv_scale; fx = fx <= 0 ? 0 : fx - floor(fx)), 11-bit fixed-point
//    weights, HResizeLinear in int32, then VResizeLinear<uchar, int, short> whose SIMD kernel (and the scalar code
//    written to match it) computes (((b0·(S0 >> 4)) >> 16) + ((b1·(S1 >> 4)) >> 16) + 2) >> 2.
// Every float operation is rounded with Math.fround (or by storing into a Float32Array) to reproduce float32.

const DBL_EPSILON = 2.220446049250313e-16;
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;
const f32 = Math.fround;

/** cvRound / saturate_cast<int>: round half to even. */
function roundHalfEven(x: number): number {
  let r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r;
}

/** saturate_cast<uchar>(float). */
function toU8(x: number): number {
  const r = roundHalfEven(x);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** resizeAreaFast_: integer scales kx, ky (src = k · dst along each axis). */
function resizeAreaFast(src: Uint8Array, w: number, cn: number, outW: number, outH: number, kx: number, ky: number): Uint8Array {
  const dst = new Uint8Array(outW * outH * cn);
  const rowStride = w * cn;
  if (kx === 2 && ky === 2) {
    // ResizeAreaFastVec fast_mode (cn 1, 3, 4): (a + b + c + d + 2) >> 2.
    for (let dy = 0; dy < outH; dy++) {
      const s0 = 2 * dy * rowStride, s1 = s0 + rowStride;
      for (let dx = 0; dx < outW; dx++) {
        for (let c = 0; c < cn; c++) {
          const i = 2 * dx * cn + c;
          dst[(dy * outW + dx) * cn + c] = (src[s0 + i]! + src[s0 + i + cn]! + src[s1 + i]! + src[s1 + i + cn]! + 2) >> 2;
        }
      }
    }
    return dst;
  }
  const scale = f32(1 / (kx * ky));
  for (let dy = 0; dy < outH; dy++) {
    for (let dx = 0; dx < outW; dx++) {
      for (let c = 0; c < cn; c++) {
        let sum = 0;
        for (let sy = 0; sy < ky; sy++) {
          const row = (dy * ky + sy) * rowStride + dx * kx * cn + c;
          for (let sx = 0; sx < kx; sx++) sum += src[row + sx * cn]!;
        }
        dst[(dy * outW + dx) * cn + c] = toU8(f32(sum * scale));
      }
    }
  }
  return dst;
}

/** computeResizeAreaTab: the (source index, destination index, float weight) entries of one axis. */
function areaTab(ssize: number, dsize: number, cn: number, scale: number): { si: Int32Array; di: Int32Array; alpha: Float32Array } {
  const si: number[] = [], di: number[] = [], alpha: number[] = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) { si.push((sx1 - 1) * cn); di.push(dx * cn); alpha.push((sx1 - fsx1) / cellWidth); }
    for (let sx = sx1; sx < sx2; sx++) { si.push(sx * cn); di.push(dx * cn); alpha.push(1 / cellWidth); }
    if (fsx2 - sx2 > 1e-3) { si.push(sx2 * cn); di.push(dx * cn); alpha.push(Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth); }
  }
  return { si: Int32Array.from(si), di: Int32Array.from(di), alpha: Float32Array.from(alpha) };
}

/** ResizeArea_Invoker<uchar, float>: true area averaging for non-integer downscales. */
function resizeAreaTab(src: Uint8Array, w: number, h: number, cn: number, outW: number, outH: number, scaleX: number, scaleY: number): Uint8Array {
  const xt = areaTab(w, outW, cn, scaleX);
  const yt = areaTab(h, outH, 1, scaleY);
  const width = outW * cn;
  const dst = new Uint8Array(width * outH);
  const buf = new Float32Array(width), sum = new Float32Array(width);
  const store = (dy: number): void => {
    for (let dx = 0; dx < width; dx++) dst[dy * width + dx] = toU8(sum[dx]!);
  };
  let prevDy = yt.di[0]!;
  for (let j = 0; j < yt.si.length; j++) {
    const beta = yt.alpha[j]!, dy = yt.di[j]!, row = yt.si[j]! * w * cn;
    buf.fill(0);
    for (let k = 0; k < xt.si.length; k++) {
      const s = row + xt.si[k]!, d = xt.di[k]!, a = xt.alpha[k]!;
      for (let c = 0; c < cn; c++) buf[d + c] = f32(buf[d + c]! + f32(src[s + c]! * a));
    }
    if (dy !== prevDy) {
      store(prevDy);
      for (let dx = 0; dx < width; dx++) sum[dx] = f32(beta * buf[dx]!);
      prevDy = dy;
    } else {
      for (let dx = 0; dx < width; dx++) sum[dx] = f32(sum[dx]! + f32(beta * buf[dx]!));
    }
  }
  store(prevDy);
  return dst;
}

/** The area_mode linear coefficients of one axis: source index and the two 11-bit weights per destination index. */
function linearCoeffs(dsize: number, ssize: number, scale: number, invScale: number, clampX: boolean): { ofs: Int32Array; w0: Int32Array; w1: Int32Array; max: number } {
  const ofs = new Int32Array(dsize), w0 = new Int32Array(dsize), w1 = new Int32Array(dsize);
  let max = dsize;
  for (let d = 0; d < dsize; d++) {
    let s = Math.floor(d * scale);
    let f = f32((d + 1) - (s + 1) * invScale);
    f = f <= 0 ? 0 : f32(f - Math.floor(f));
    // Only the horizontal pass clamps at the right edge (xmax); the vertical pass clips the row index instead.
    if (clampX && s + 1 >= ssize) {
      max = Math.min(max, d);
      if (s >= ssize - 1) { f = 0; s = ssize - 1; }
    }
    ofs[d] = s;
    w0[d] = roundHalfEven(f32(f32(1 - f) * COEF_SCALE));
    w1[d] = roundHalfEven(f32(f * COEF_SCALE));
  }
  return { ofs, w0, w1, max };
}

/** resizeGeneric_ with HResizeLinear<uchar, int, short> and VResizeLinear<uchar, int, short> in area_mode. */
function resizeLinearArea(src: Uint8Array, w: number, h: number, cn: number, outW: number, outH: number, scaleX: number, scaleY: number, invX: number, invY: number): Uint8Array {
  const xc = linearCoeffs(outW, w, scaleX, invX, true);
  const yc = linearCoeffs(outH, h, scaleY, invY, false);
  const width = outW * cn;
  const dst = new Uint8Array(width * outH);
  const hresize = (sy: number, out: Int32Array): void => {
    const row = sy * w * cn;
    for (let dx = 0; dx < outW; dx++) {
      const s = row + xc.ofs[dx]! * cn;
      for (let c = 0; c < cn; c++) {
        out[dx * cn + c] = dx < xc.max
          ? src[s + c]! * xc.w0[dx]! + src[s + c + cn]! * xc.w1[dx]!
          : src[s + c]! * COEF_SCALE;
      }
    }
  };
  const r0 = new Int32Array(width), r1 = new Int32Array(width);
  for (let dy = 0; dy < outH; dy++) {
    const sy = yc.ofs[dy]!;
    hresize(Math.min(sy, h - 1), r0);
    hresize(Math.min(sy + 1, h - 1), r1);
    const b0 = yc.w0[dy]!, b1 = yc.w1[dy]!;
    for (let x = 0; x < width; x++) {
      const v = (((b0 * (r0[x]! >> 4)) >> 16) + ((b1 * (r1[x]! >> 4)) >> 16) + 2) >> 2;
      dst[dy * width + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return dst;
}

/** OpenCV cv2.resize(..., interpolation=INTER_AREA) of interleaved H x W x C uint8 data; returns outH x outW x C. */
export function opencvResizeArea(data: Uint8Array, w: number, h: number, channels: number, outW: number, outH: number): Uint8Array {
  for (const [name, v] of [['w', w], ['h', h], ['outW', outW], ['outH', outH]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected an integer >= 1 for ${name} but received ${v}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`Expected 1, 3 or 4 channels but received ${channels}`);
  if (data.length !== w * h * channels) throw new RangeError(`Expected ${w * h * channels} bytes for a ${h}x${w}x${channels} image but received ${data.length}`);
  if (outW === w && outH === h) return data.slice();

  const invX = outW / w, invY = outH / h;
  const scaleX = 1 / invX, scaleY = 1 / invY;
  if (scaleX >= 1 && scaleY >= 1) {
    const kx = roundHalfEven(scaleX), ky = roundHalfEven(scaleY);
    if (Math.abs(scaleX - kx) < DBL_EPSILON && Math.abs(scaleY - ky) < DBL_EPSILON) return resizeAreaFast(data, w, channels, outW, outH, kx, ky);
    return resizeAreaTab(data, w, h, channels, outW, outH, scaleX, scaleY);
  }
  return resizeLinearArea(data, w, h, channels, outW, outH, scaleX, scaleY, invX, invY);
}
