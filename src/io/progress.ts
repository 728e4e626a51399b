// A one-line progress bar on stderr, redrawn at most ten times a second; silent when stderr is not a
// terminal or when the user asked for quiet.
import { basename } from 'node:path';

export class Progress {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly enabled: boolean;
  /** Appended to the bar: what else is going on (downloads in flight). */
  note: () => string = () => '';

  constructor(private total: number, private label: string, quiet: boolean, private stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = !quiet && stream.isTTY === true;
  }

  tick(current: string): void {
    this.done++;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = now;
    const width = 24;
    const filled = this.total ? Math.round((this.done / this.total) * width) : width;
    const rate = this.done / Math.max((now - this.started) / 1000, 0.001);
    const note = this.note();
    this.draw(`${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${rate.toFixed(0)}/s ${basename(current)}${note ? ` | ${note}` : ''}`);
  }

  /** A free-text status under this label, for work that has no count (a download's bytes). */
  show(text: string): void {
    if (this.enabled) this.draw(`${this.label} ${text}`);
  }

  private draw(line: string): void {
    const columns = this.stream.columns || 100;
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
  }

  clear(): void {
    if (this.enabled) this.stream.write(`\r${' '.repeat((this.stream.columns || 100) - 1)}\r`);
  }
}
