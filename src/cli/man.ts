/** `ksymtree man`: a roff man page (section 1) written from the commander definitions and the examples, so the two cannot drift. */
import type { Command, Option } from 'commander';
import { COMMAND_EXAMPLES, type Example, USER_EXAMPLES } from './examples.js';

/** Escapes text for roff: backslashes, and a leading dot or quote that would start a request. */
function roff(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

function optionDefault(o: Option): string {
  const d = o.defaultValue as unknown;
  if (o.defaultValueDescription) return ` (default: ${o.defaultValueDescription})`;
  if (d === undefined || d === false || o.negate) return '';
  return ` (default: ${Array.isArray(d) ? d.join(' ') : String(d)})`;
}

function optionChoices(o: Option): string {
  const choices = (o as Option & { argChoices?: string[] }).argChoices;
  return choices ? ` One of: ${choices.join(', ')}.` : '';
}

function examples(list: readonly Example[]): string[] {
  return list.flatMap((e) => ['.PP', '.nf', `\\fB${roff(e.command)}\\fR`, '.fi', '.RS 4', roff(e.what), '.RE']);
}

/** Every command by its full name (`klp check`), subcommands after their parent; commander's `help` left out. */
export function commandsByName(program: Command, prefix = ''): [string, Command][] {
  return program.commands.filter((c) => c.name() !== 'help')
    .flatMap((c) => [[`${prefix}${c.name()}`, c] as [string, Command], ...commandsByName(c, `${prefix}${c.name()} `)]);
}

export function manPage(program: Command, version: string, extra: { exitCodes: string; environment: string; files: string }): string {
  const lines = [
    `.TH KSYMTREE 1 "" "ksymtree ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `ksymtree \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    '\\fBksymtree\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]',
    '.br',
    '\\fBksymtree help\\fR \\fICOMMAND\\fR',
    '.SH COMMANDS',
  ];
  for (const [name, c] of commandsByName(program)) {
    const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
    lines.push('.SS', `\\fB${name}\\fR ${roff(args.join(' '))}`.trimEnd(), roff(c.description()));
    for (const a of c.registeredArguments) if (a.description) lines.push('.TP', `\\fI${roff(a.name())}\\fR`, roff(a.description));
    for (const o of c.options) lines.push('.TP', `\\fB${roff(o.flags)}\\fR`, roff(`${o.description}${optionDefault(o)}.${optionChoices(o)}`));
    const ex = COMMAND_EXAMPLES[name];
    if (ex) lines.push('.PP', '\\fIExamples:\\fR', ...examples(ex));
  }
  lines.push('.SH EXAMPLES');
  for (const u of USER_EXAMPLES) lines.push('.SS', roff(u.user), ...examples(u.examples));
  lines.push('.SH "EXIT STATUS"', roff(extra.exitCodes), '.SH ENVIRONMENT', roff(extra.environment), '.SH FILES', roff(extra.files));
  return `${lines.join('\n')}\n`;
}
