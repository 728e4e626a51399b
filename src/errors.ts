/**
 * A failure to read one object. It always names the file, the byte offset where reading stopped
 * (in the decompressed image for compressed modules) and what was expected there, so that a packager
 * can open the file in a hex editor and see the problem.
 */
export class ObjectError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly expected: string,
    readonly kind: ObjectErrorKind = 'format',
  ) {
    super(`${file}: at offset 0x${offset.toString(16)}: ${expected}`);
    this.name = 'ObjectError';
  }
}

export type ObjectErrorKind = 'format' | 'truncated' | 'unsupported' | 'compression' | 'io';

/** A usage or environment problem that stops the whole run (exit code 2). */
export class FatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalError';
  }
}
