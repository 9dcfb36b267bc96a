// MedSAM's image resize: scikit-image `transform.resize(img, (1024, 1024), order=3, preserve_range=True,
// anti_aliasing=True)` (mode 'reflect' → SciPy ndimage 'mirror'), re-stated step by step in SciPy's order of
// floating-point operations, because MedSAM truncates the result to uint8 and near-integer values must land on the
// same side. Enlarging (the usual case: images under 1024²) matches scikit-image 0.19 / SciPy 1.10 bit for bit.
// Shrinking adds the Gaussian prefilter, whose weights come from NumPy's exp: that is CPU-dependent (NumPy uses
// its own AVX-512 exp where the CPU has it, libm's elsewhere; they differ by an ulp), so there the result agrees
// to about 1e-13 and not bitwise; this file uses Math.exp, which agrees with glibc's.
// Hand-written because no npm library implements SciPy's spline resampling.
//
//  1. anti-aliasing (only along axes that shrink): a Gaussian per axis with sigma = (in/out − 1)/2, radius
//     int(4·sigma + 0.5), weights exp(−x²/(2σ²)) normalised by their NumPy sum, correlated with mirror extension
//     (ndimage.gaussian_filter → correlate1d's symmetric branch: centre first, then pairs from the outside in);
//  2. cubic B-spline prefilter along every axis, channels included (ndimage.spline_filter, mirror boundary:
//     gain 6, causal and anticausal passes with the pole √3 − 2);
//  3. ndimage.zoom with grid_mode: output index k samples input coordinate (k + 0.5)·(in/out) − 0.5 (mirrored
//     into range), 4 taps per axis, the 4×4×4 products summed in C order (channel fastest);
//  4. clip to the input's [min, max] (skimage's clip=True).
// Sizes are (H, W); data is interleaved row-major H × W × C.

const POLE = -0.267949192431122706472553658494127633; // sqrt(3) - 2, ni_splines.c

/** SciPy map_coordinate for mode 'mirror' (ni_interpolation.c), for coordinates outside [0, len − 1]. */
function mirrorCoordinate(x: number, len: number): number {
  if (x < 0) {
    if (len <= 1) return 0;
    const s2 = 2 * len - 2;
    x = s2 * Math.trunc(-x / s2) + x;
    return x <= 1 - len ? x + s2 : -x;
  }
  if (x > len - 1) {
    if (len <= 1) return 0;
    const s2 = 2 * len - 2;
    x -= s2 * Math.trunc(x / s2);
    return x >= len ? s2 - x : x;
  }
  return x;
}

/** Mirror an integer index into [0, len) (the edge offsets of NI_ZoomShift). */
function mirrorIndex(i: number, len: number): number {
  if (len <= 1) return 0;
  const s2 = 2 * len - 2;
  if (i < 0) {
    i = s2 * Math.trunc(-i / s2) + i;
    return i <= 1 - len ? i + s2 : -i;
  }
  if (i >= len) {
    i -= s2 * Math.trunc(i / s2);
    return i >= len ? s2 - i : i;
  }
  return i;
}

/** NumPy's pairwise sum of a float64 array (the reduction behind ndarray.sum for n ≤ 128). */
function numpySum(a: Float64Array): number {
  const n = a.length;
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i]!;
    return s;
  }
  if (n > 128) throw new RangeError('numpySum: blocks over 128 elements are not needed here');
  const r = Array.from(a.subarray(0, 8));
  let i = 8;
  for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += a[i + j]!;
  let s = ((r[0]! + r[1]!) + (r[2]! + r[3]!)) + ((r[4]! + r[5]!) + (r[6]! + r[7]!));
  for (; i < n; i++) s += a[i]!;
  return s;
}

/** scipy.ndimage._gaussian_kernel1d(sigma, 0, radius) (symmetric, so its reversal is itself). */
function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.trunc(4 * sigma + 0.5);
  const c = -0.5 / (sigma * sigma);
  const w = new Float64Array(2 * radius + 1);
  for (let x = -radius; x <= radius; x++) w[x + radius] = Math.exp(c * (x * x));
  const sum = numpySum(w);
  for (let i = 0; i < w.length; i++) w[i] = w[i]! / sum;
  return w;
}

/** A view of one axis of an H × W × C array: `lines` lines of `len` elements, element k of line l at base(l) + k·stride. */
interface AxisLines { len: number; stride: number; lines: number; base: (line: number) => number }

function axisLines(shape: [number, number, number], axis: 0 | 1 | 2): AxisLines {
  const [H, W, C] = shape;
  if (axis === 0) return { len: H, stride: W * C, lines: W * C, base: (l) => l };
  if (axis === 1) return { len: W, stride: C, lines: H * C, base: (l) => Math.trunc(l / C) * W * C + (l % C) };
  return { len: C, stride: 1, lines: H * W, base: (l) => l * C };
}

/** ndimage.correlate1d with a symmetric kernel, mode 'mirror', in place along one axis. */
function gaussianAlongAxis(data: Float64Array, shape: [number, number, number], axis: 0 | 1 | 2, sigma: number): void {
  const w = gaussianKernel(sigma);
  const r = (w.length - 1) / 2;
  const { len, stride, lines, base } = axisLines(shape, axis);
  const ext = new Float64Array(len + 2 * r);
  for (let l = 0; l < lines; l++) {
    const b = base(l);
    for (let k = -r; k < len + r; k++) ext[k + r] = data[b + mirrorIndex(k, len) * stride]!;
    for (let k = 0; k < len; k++) {
      const c = k + r;
      let v = ext[c]! * w[r]!;
      for (let j = -r; j < 0; j++) v += (ext[c + j]! + ext[c - j]!) * w[r + j]!;
      data[b + k * stride] = v;
    }
  }
}

/** ndimage.spline_filter1d(order 3, mode 'mirror') in place along one axis (ni_splines.c apply_filter). */
function splineFilterAlongAxis(data: Float64Array, shape: [number, number, number], axis: 0 | 1 | 2): void {
  const { len: n, stride, lines, base } = axisLines(shape, axis);
  if (n <= 1) return;
  const z = POLE;
  const gain = (1 - z) * (1 - 1 / z);
  const zn1 = Math.pow(z, n - 1);
  const c = new Float64Array(n);
  for (let l = 0; l < lines; l++) {
    const b = base(l);
    for (let i = 0; i < n; i++) c[i] = data[b + i * stride]! * gain;
    // causal initialisation (mirror), then the causal pass
    let zi = z;
    c[0] = c[0]! + zn1 * c[n - 1]!;
    for (let i = 1; i < n - 1; i++) {
      c[0] = c[0]! + zi * (c[i]! + zn1 * c[n - 1 - i]!);
      zi *= z;
    }
    c[0] = c[0]! / (1 - zn1 * zn1);
    for (let i = 1; i < n; i++) c[i] = c[i]! + z * c[i - 1]!;
    // anticausal initialisation (mirror), then the anticausal pass
    c[n - 1] = (z * c[n - 2]! + c[n - 1]!) * z / (z * z - 1);
    for (let i = n - 2; i >= 0; i--) c[i] = z * (c[i + 1]! - c[i]!);
    for (let i = 0; i < n; i++) data[b + i * stride] = c[i]!;
  }
}

/** Per output index along one axis: the 4 input indices and cubic weights (NI_ZoomShift, grid_mode). */
function zoomTaps(inLen: number, outLen: number): { idx: Int32Array; w: Float64Array } {
  const zoom = inLen / outLen;
  const idx = new Int32Array(outLen * 4);
  const w = new Float64Array(outLen * 4);
  for (let k = 0; k < outLen; k++) {
    let cc = k;
    cc += 0.5;
    cc *= zoom;
    cc -= 0.5;
    cc = mirrorCoordinate(cc, inLen);
    const start = Math.floor(cc) - 1;
    for (let t = 0; t < 4; t++) idx[k * 4 + t] = mirrorIndex(start + t, inLen);
    // get_spline_interpolation_weights(cc, 3)
    const x = cc - Math.floor(cc);
    const y = x, zz = 1 - x;
    const w1 = (y * y * (y - 2) * 3 + 4) / 6;
    const w2 = (zz * zz * (zz - 2) * 3 + 4) / 6;
    const w0 = zz * zz * zz / 6;
    let w3 = 1;
    w3 -= w0; w3 -= w1; w3 -= w2;
    w[k * 4] = w0; w[k * 4 + 1] = w1; w[k * 4 + 2] = w2; w[k * 4 + 3] = w3;
  }
  return { idx, w };
}

/**
 * skimage.transform.resize(image, (outH, outW), order=3, preserve_range=True, anti_aliasing=True) of interleaved
 * H × W × C uint8 (or float) data, channels kept; returns the float64 result (outH × outW × C), clipped to the
 * input's range as skimage does.
 */
export function skimageResizeCubic(data: ArrayLike<number>, w: number, h: number, channels: number, outW: number, outH: number): Float64Array {
  for (const [name, v] of [['w', w], ['h', h], ['channels', channels], ['outW', outW], ['outH', outH]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected an integer >= 1 for ${name} but received ${v}`);
  }
  if (data.length !== w * h * channels) throw new RangeError(`Expected ${w * h * channels} samples for a ${h}x${w}x${channels} image but received ${data.length}`);
  const C = channels;
  const src = Float64Array.from(data);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < src.length; i++) { const v = src[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
  const shape: [number, number, number] = [h, w, C];
  // 1. anti-aliasing where an axis shrinks (skimage: any output axis smaller than the input's)
  if (outH < h || outW < w) {
    const sH = Math.max(0, (h / outH - 1) / 2), sW = Math.max(0, (w / outW - 1) / 2);
    if (sH > 1e-15) gaussianAlongAxis(src, shape, 0, sH);
    if (sW > 1e-15) gaussianAlongAxis(src, shape, 1, sW);
  }
  // 2. spline coefficients along every axis (order 0, 1, 2 as ndimage.spline_filter)
  splineFilterAlongAxis(src, shape, 0);
  splineFilterAlongAxis(src, shape, 1);
  splineFilterAlongAxis(src, shape, 2);
  // 3. zoom: each output value is the C-ordered sum over the 4 × 4 × 4 taps of coeff·wy·wx·wc
  const ty = zoomTaps(h, outH), tx = zoomTaps(w, outW), tc = zoomTaps(C, C);
  const out = new Float64Array(outH * outW * C);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let oc = 0; oc < C; oc++) {
        let t = 0;
        for (let a = 0; a < 4; a++) {
          const rowBase = ty.idx[oy * 4 + a]! * w * C, wy = ty.w[oy * 4 + a]!;
          for (let b = 0; b < 4; b++) {
            const pixBase = rowBase + tx.idx[ox * 4 + b]! * C, wx = tx.w[ox * 4 + b]!;
            for (let c = 0; c < 4; c++) t += src[pixBase + tc.idx[oc * 4 + c]!]! * wy * wx * tc.w[oc * 4 + c]!;
          }
        }
        // 4. skimage's clip to the input range
        out[(oy * outW + ox) * C + oc] = t < lo ? lo : t > hi ? hi : t;
      }
    }
  }
  return out;
}

/**
 * MedSAM's encoder input: grey or RGB uint8 (H × W × 3 after replication) → skimage order-3 resize to
 * size × size (aspect ignored) → uint8 by truncation (NumPy astype) → min–max to [0, 1] over the whole image.
 * Returns size × size × 3 float32 values, interleaved.
 */
export function medsamPreprocess(rgb: Uint8Array, w: number, h: number, size = 1024): Float32Array {
  const resized = skimageResizeCubic(rgb, w, h, 3, size, size);
  const u8 = new Uint8Array(resized.length);
  for (let i = 0; i < resized.length; i++) u8[i] = Math.trunc(resized[i]!); // in [0, 255] after the clip
  let lo = 255, hi = 0;
  for (let i = 0; i < u8.length; i++) { const v = u8[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
  const range = Math.max(hi - lo, 1e-8);
  const out = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) out[i] = (u8[i]! - lo) / range;
  return out;
}
