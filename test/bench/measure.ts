// Timing a bench command: wall, CPU and peak RSS from GNU time, and how much CPU other processes took meanwhile
// (a run is UNRELIABLE when they took more than a quarter of a core); N rounds, the median.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Command {
  readonly label: string;
  readonly shell: string;
  readonly note?: string;
}

export interface Run {
  readonly seconds: number;
  /** User + system CPU seconds of the command (and its children). */
  readonly cpu: number;
  readonly peakRssMb: number;
  /** CPU seconds other processes used while this run went on (the machine's busy time minus ours). */
  readonly otherCpu: number;
  /** The phase times `index --timings` printed, when the command was an index run. */
  readonly phases?: string;
}

export interface Measure extends Command {
  readonly runs: readonly Run[];
  /** Median wall seconds. */
  readonly seconds: number;
  readonly unreliable: boolean;
}

/** Other processes may use this share of one core during a run before the run proves nothing. */
const OTHER_CPU_LIMIT = 0.25;

/** Whether other processes took more than their share of a core during the run. */
export const disturbed = (r: Run): boolean => r.otherCpu > OTHER_CPU_LIMIT * r.seconds;

/** Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait, in USER_HZ = 100). */
function machineBusySeconds(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

export function timed(c: Command): Run {
  const before = machineBusySeconds();
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', 'bash', '-c', c.shell], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const busy = machineBusySeconds() - before;
  const m = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  if (r.error || !m) throw new Error(`${c.label}: could not time \`${c.shell}\` (needs GNU time at /usr/bin/time): ${r.error?.message ?? r.stderr}`);
  if (r.status !== 0 && r.status !== 1) process.stderr.write(`bench: ${c.label} exited with ${r.status}: ${r.stderr.slice(-400)}\n`);
  const phases = /ksymtree: timings: (.*)/.exec(r.stderr)?.[1];
  return { seconds: Number(m[1]), cpu: Number(m[3]) + Number(m[4]), peakRssMb: Number(m[2]) / 1024, otherCpu: Math.max(0, busy - Number(m[3]) - Number(m[4])), phases };
}

/** Every command once per round, in turn, so that a change of machine load falls on all of them alike. */
export function measure(commands: readonly Command[], rounds: number): Measure[] {
  const runs: Run[][] = commands.map(() => []);
  for (let round = 0; round < rounds; round++) commands.forEach((c, i) => runs[i].push(timed(c)));
  return commands.map((c, i) => {
    const sorted = [...runs[i]].sort((a, b) => a.seconds - b.seconds);
    return { ...c, runs: runs[i], seconds: sorted[Math.floor((sorted.length - 1) / 2)].seconds,
      unreliable: runs[i].some(disturbed) };
  });
}

