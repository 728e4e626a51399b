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

/** Error codes that describe the machine (disk full, no permission, I/O failure), not a bug or an input. */
const ENVIRONMENT = /^(?:ENOSPC|EDQUOT|EFBIG|EIO|EACCES|EPERM|EROFS|ENOMEM|EMFILE|ENFILE|SQLITE_FULL|SQLITE_IOERR\w*|SQLITE_CANTOPEN\w*|SQLITE_READONLY\w*|SQLITE_NOMEM)$/;

/** The message of an error the environment caused (a full disk, a read-only directory), else null. */
export function environmentProblem(e: unknown): string | null {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && ENVIRONMENT.test(code) ? `${(e as Error).message} (${code})` : null;
}
