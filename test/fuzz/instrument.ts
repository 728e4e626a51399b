/**
 * Branch counters for the fuzzer: rewrites a compiled module (dist/src/**.js) so that every function entry,
 * both arms of each if / ?: / && / || / ??, every switch case, catch block and loop body bumps its own counter,
 * and collects the module's string and number literals for the mutation dictionary (a poor man's compare log).
 */
import ts from 'typescript';

export interface Instrumented {
  readonly code: string;
  readonly counters: number;
}

interface Edit {
  readonly pos: number;
  readonly text: string;
  /** Opening text sorts outer first at one position, closing text inner first, and closings before openings. */
  readonly rank: number;
}

/** The global the instrumented modules register with (test/fuzz/coverage.ts defines it). */
export const COVERAGE_GLOBAL = '__ksymtreeFuzzCoverage';

export function instrument(code: string, moduleId: string): Instrumented {
  const file = ts.createSourceFile(moduleId, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const edits: Edit[] = [];
  const words = new Set<string>();
  const numbers = new Set<number>();
  let counters = 0;
  const bump = () => `__kc[${counters++}]++`;
  const wrapStatement = (s: ts.Statement, depth: number) => {
    edits.push({ pos: s.getStart(file), text: `{${bump()};`, rank: 1e6 + depth });
    edits.push({ pos: s.end, text: '}', rank: -depth });
  };
  const wrapExpression = (e: ts.Expression, depth: number) => {
    edits.push({ pos: e.getStart(file), text: `(${bump()}, `, rank: 1e6 + depth });
    edits.push({ pos: e.end, text: ')', rank: -depth });
  };
  const atBlockStart = (b: ts.Block, depth: number) => edits.push({ pos: b.getStart(file) + 1, text: `${bump()};`, rank: 1e6 + depth });

  const visit = (node: ts.Node, depth: number): void => {
    if (ts.isIfStatement(node)) {
      wrapStatement(node.thenStatement, depth);
      if (node.elseStatement) wrapStatement(node.elseStatement, depth);
      else edits.push({ pos: node.thenStatement.end, text: ` else {${bump()};}`, rank: -depth });
    } else if (ts.isConditionalExpression(node)) {
      wrapExpression(node.whenTrue, depth);
      wrapExpression(node.whenFalse, depth);
    } else if (ts.isBinaryExpression(node) && isShortCircuit(node.operatorToken.kind)) {
      wrapExpression(node.right, depth);
    } else if (ts.isCaseClause(node) || ts.isDefaultClause(node)) {
      edits.push({ pos: node.statements.pos, text: `${bump()};`, rank: 1e6 + depth });
    } else if (ts.isCatchClause(node)) {
      atBlockStart(node.block, depth);
    } else if (ts.isIterationStatement(node, false)) {
      wrapStatement(node.statement, depth);
    } else if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      if (ts.isBlock(body)) atBlockStart(body, depth);
      else wrapExpression(body as ts.Expression, depth);
    } else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      if (node.text.length >= 2 && node.text.length <= 40 && !ts.isImportDeclaration(node.parent) && !ts.isExportDeclaration(node.parent)) words.add(node.text);
    } else if (ts.isNumericLiteral(node)) {
      const n = Number(node.text);
      if (Number.isInteger(n) && n > 1 && n <= 0xffff_ffff) numbers.add(n);
    }
    node.forEachChild((child) => visit(child, depth + 1));
  };
  visit(file, 0);

  edits.sort((a, b) => a.pos - b.pos || a.rank - b.rank);
  const parts: string[] = [];
  let last = 0;
  for (const e of edits) {
    parts.push(code.slice(last, e.pos), e.text);
    last = e.pos;
  }
  parts.push(code.slice(last));
  const prelude = `const __kc = globalThis.${COVERAGE_GLOBAL}.module(${JSON.stringify(moduleId)}, ${counters}, ${JSON.stringify([...words])}, ${JSON.stringify([...numbers])});`;
  return { code: `${prelude}${parts.join('')}`, counters };
}

function isShortCircuit(kind: ts.SyntaxKind): boolean {
  return kind === ts.SyntaxKind.AmpersandAmpersandToken || kind === ts.SyntaxKind.BarBarToken || kind === ts.SyntaxKind.QuestionQuestionToken;
}
