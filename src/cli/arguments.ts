// What the commands' commander wiring shares: argument parsers (each turns a bad value into commander's usage
// error) and `run`, which gives a command its Output and turns its result into the process's exit code.
import { InvalidArgumentError } from 'commander';
import type { CommandResult } from '../commands/command.js';
import { Output } from '../io/output.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Repeatable options: each value added to the list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Runs one command with one Output (stdout, or `file` for `-o FILE`): when it returns, its output is written and
 * its exit code is the process's; when it throws, what it had not yet flushed is dropped (no file is written).
 */
export async function run(command: (out: Output) => Promise<CommandResult>, file?: string): Promise<void> {
  const out = new Output(file);
  const { exitCode } = await command(out);
  out.end();
  if (exitCode) process.exitCode = exitCode;
}
