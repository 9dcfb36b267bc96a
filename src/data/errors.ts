// One error type for everything the data layer rejects: a stable code for programs, a one-line message for people.

export type DataErrorCode =
  | 'NOT_FOUND' // a path that does not exist
  | 'EMPTY_FOLDER' // a folder with no usable files
  | 'UNKNOWN_LAYOUT' // a dataset root that matches no supported layout
  | 'UNPAIRED' // images without masks or masks without images
  | 'AMBIGUOUS' // two files claim the same stem
  | 'SIZE_MISMATCH' // image and mask (or extra map) differ in size
  | 'GEOMETRY_MISMATCH' // image and label volumes differ in affine
  | 'UNREADABLE' // a file that cannot be decoded
  | 'UNSUPPORTED' // a valid file using a feature we do not read (compressed DICOM, RLE BMP, ...)
  | 'INVALID'; // bad arguments, bad split files, bad dataset.json

export class DataError extends Error {
  readonly code: DataErrorCode;
  readonly path?: string;

  constructor(code: DataErrorCode, message: string, path?: string) {
    super(message.replace(/\s*\n\s*/g, ' ')); // always one line
    this.name = 'DataError';
    this.code = code;
    this.path = path;
  }
}

/** "a, b, c and 7 more": the first few items of a list for an error message. */
export function listFew(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).map((s) => JSON.stringify(s)).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** The message of an unknown thrown value. */
export function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
