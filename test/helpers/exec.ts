// Runs an external tool for the tests (fixture builders, oracles): one promise-based wrapper around execFile
// whose failure names the command and carries its exit code, stdout and stderr; and a cap on tools at a time.
import { execFile } from 'node:child_process';

export interface ExecOptions {
  readonly cwd?: string;
  /** Added to the test's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the tool's stdin (which is otherwise closed at once). */
  readonly input?: Buffer | string;
  /** 'buffer': stdout as bytes (compressors, binary output); text otherwise. */
  readonly encoding?: 'utf8' | 'buffer';
}

export interface ExecResult<Out = string> {
  readonly stdout: Out;
  readonly stderr: string;
}

/** A tool that could not run or exited non-zero: `code` is its exit status (or 'ENOENT', a signal name). */
export class ExecError extends Error {
  constructor(message: string, readonly code: number | string | null, readonly stdout: string | Buffer, readonly stderr: string) {
    super(message);
    this.name = 'ExecError';
  }
}

export function exec(cmd: string, args: readonly string[], opts: ExecOptions & { encoding: 'buffer' }): Promise<ExecResult<Buffer>>;
export function exec(cmd: string, args: readonly string[], opts?: ExecOptions & { encoding?: 'utf8' }): Promise<ExecResult>;
/** `cmd args...`; rejects with an ExecError naming the command line: `<cmd> not found` when it is not installed. */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult<string | Buffer>> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args as string[], {
      cwd: opts.cwd, env: opts.env && { ...process.env, ...opts.env }, encoding: opts.encoding ?? 'utf8', maxBuffer: 1 << 30,
    }, (err, stdout, stderr) => {
      const errText = stderr.toString();
      if (!err) return resolve({ stdout, stderr: errText });
      const e = err as NodeJS.ErrnoException & { code?: number | string | null; signal?: string | null };
      const why = e.code === 'ENOENT' ? `${cmd} not found`
        : errText.trim() || (e.signal ? `killed by ${e.signal}` : typeof e.code === 'number' ? `exit status ${e.code}` : e.message);
      reject(new ExecError(`${[cmd, ...args].join(' ')} failed: ${why}`, e.signal ?? e.code ?? null, stdout, errText));
    });
    // stdin is a pipe: close it, after the input if there is one, so no tool waits on it.
    child.stdin?.on('error', () => { /* the tool exited without reading it: its status tells */ });
    child.stdin?.end(opts.input);
  });
}

/** At most N tools at a time: the machine is shared. */
export class Limiter {
  private active = 0;
  private queue: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
