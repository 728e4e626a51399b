// Buffered synchronous writes to stdout: large listings (a million symbol lines) stream out without
// holding them in memory, and a closed pipe (`| head`) ends the program quietly.
import { writeSync } from 'node:fs';

export class Output {
  private parts: string[] = [];
  private length = 0;

  write(text: string): void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= 1 << 16) this.flush();
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  flush(): void {
    if (!this.parts.length) return;
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
}
