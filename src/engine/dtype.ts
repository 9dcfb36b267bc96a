// Data types: names as PyTorch spells them, libtorch ScalarType codes, and the matching JS typed arrays.

export const DTYPES = ['float32', 'float64', 'bfloat16', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

/** c10::ScalarType enumerators. */
const CODE: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7, bool: 11, bfloat16: 15,
};
const BY_CODE = new Map<number, DType>(Object.entries(CODE).map(([k, v]) => [v, k as DType]));

export const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, bfloat16: 2, float16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export function dtypeCode(dtype: DType): number {
  const code = CODE[dtype];
  if (code === undefined) {
    throw new TypeError(`Expected one of ${DTYPES.join(', ')} for dtype but received ${String(dtype)} of type ${typeof dtype}`);
  }
  return code;
}

export function dtypeFromCode(code: number): DType {
  const d = BY_CODE.get(code);
  if (!d) throw new TypeError(`unsupported libtorch scalar type code ${code}`);
  return d;
}

export const isFloating = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'bfloat16' || d === 'float16';

/** Raw storage view for each dtype: bf16/f16 are exposed as their uint16 bit patterns, bool as uint8. */
export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array
  : D extends 'float64' ? Float64Array
    : D extends 'int64' ? BigInt64Array
      : D extends 'int32' ? Int32Array
        : D extends 'int16' ? Int16Array
          : D extends 'int8' ? Int8Array
            : D extends 'bfloat16' | 'float16' ? Uint16Array
              : Uint8Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint16Array | Uint8Array;

export function typedArrayFor(dtype: DType, buffer: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer);
    case 'float64': return new Float64Array(buffer);
    case 'int64': return new BigInt64Array(buffer);
    case 'int32': return new Int32Array(buffer);
    case 'int16': return new Int16Array(buffer);
    case 'int8': return new Int8Array(buffer);
    case 'bfloat16':
    case 'float16': return new Uint16Array(buffer);
    default: return new Uint8Array(buffer);
  }
}

/** The dtype a typed array holds by default (Uint16Array is ambiguous and must be named explicitly). */
export function dtypeOfTypedArray(data: ArrayBufferView): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  throw new TypeError(`cannot infer a dtype from ${data.constructor.name}; pass dtype explicitly`);
}

export const MemoryFormat = { contiguous: 0, preserve: 1, channelsLast: 2, channelsLast3d: 3 } as const;
export type MemoryFormatName = keyof typeof MemoryFormat;
