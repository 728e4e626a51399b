// The one sink of every command: buffered synchronous writes to stdout (or, with `-o FILE`, to a file written
// atomically at the end) and notes on stderr. Large listings (a million symbol lines) stream out without
// holding them in memory, and a closed pipe (`| head`) ends the program quietly.
import { writeSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

export class Output {
  private parts: string[] = [];
  private length = 0;

  /** `file`: collect everything and write it to that file at `end()` instead of streaming to stdout. */
  constructor(private readonly file?: string) {}

  write(text: string): void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= 1 << 16) this.flush();
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  /** `ksymtree: TEXT` on stderr, after what was written to stdout so far. */
  note(text: string): void {
    this.flush();
    process.stderr.write(`ksymtree: ${text}\n`);
  }

  /** Writes what is buffered to stdout (a file output keeps it until `end`). */
  flush(): void {
    if (this.file !== undefined || !this.parts.length) return;
    const data = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.length = 0;
    let done = 0;
    while (done < data.length) {
      try {
        done += writeSync(1, data, done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') process.exit(0);
        if (code !== 'EAGAIN') throw e;
      }
    }
  }

  /** The command's output is complete: stdout flushed, or the file written. */
  end(): void {
    if (this.file === undefined) return this.flush();
    writeFileAtomic(this.file, this.parts.join(''));
    this.parts = [];
    this.length = 0;
  }
}
