// No import cycles among the sources: the relative imports and re-exports of src/**/*.ts and workers/*.ts
// (type-only ones included) are read from the files themselves and must form a graph without cycles.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { REPO_ROOT } from './helpers/repo.js';

/** `import … from '…'`, `import type …`, `export … from '…'`, `import '…'` at the start of a line. */
const STATIC = /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$*{},\s]+?\s+from\s*)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourcesUnder(dir: string, deep: boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (deep) out.push(...sourcesUnder(p, deep));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Each file's relative imports, resolved to the .ts files they name (files outside the set are left out). */
function importGraph(root: string): Map<string, string[]> {
  const files = [...sourcesUnder(path.join(root, 'src'), true), ...sourcesUnder(path.join(root, 'workers'), false)];
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const specs = [...text.matchAll(STATIC), ...text.matchAll(DYNAMIC)].map((m) => m[1]).filter((s) => s.startsWith('.'));
    const deps = specs.map((s) => path.resolve(path.dirname(f), s.replace(/\.js$/, '.ts'))).filter((d) => known.has(d));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** The strongly connected components of more than one file, or of a file that imports itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) out.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** One line per file of a cycle: the file and the files of the same cycle it imports. */
function describe(root: string, graph: Map<string, string[]>, found: string[][]): string {
  return found.map((c) => c.map((f) => `${path.relative(root, f)} -> ${graph.get(f)!.filter((d) => c.includes(d)).map((d) => path.relative(root, d)).join(', ')}`).join('\n')).join('\n\n');
}

test('src/ and workers/ have no import cycles, type-only imports included', (t) => {
  const graph = importGraph(REPO_ROOT);
  t.true(graph.size > 50, `expected the project's sources under ${REPO_ROOT}, found ${graph.size} files`);
  const found = cycles(graph);
  const relative = found.map((c) => c.map((f) => path.relative(REPO_ROOT, f)));
  t.deepEqual(relative, [], `import cycles:\n${describe(REPO_ROOT, graph, found)}`);
});

test('the check finds a planted cycle through a type-only import and a re-export', (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'ksymtree-cycles-'));
  try {
    mkdirSync(path.join(root, 'src', 'x'), { recursive: true });
    mkdirSync(path.join(root, 'workers'));
    writeFileSync(path.join(root, 'src', 'a.ts'), "// a\nimport type {\n  B,\n} from './x/b.js';\nexport const a = 1;\n");
    writeFileSync(path.join(root, 'src', 'x', 'b.ts'), "// b\nexport * from '../c.js';\nexport type B = number;\n");
    writeFileSync(path.join(root, 'src', 'c.ts'), "// c\nexport { a } from './a.js';\n");
    writeFileSync(path.join(root, 'src', 'leaf.ts'), "// leaf, imported by a worker only\nexport const leaf = 0;\n");
    writeFileSync(path.join(root, 'workers', 'w.ts'), "// w\nconst m = await import('../src/leaf.js');\nexport default m;\n");
    const graph = importGraph(root);
    t.deepEqual(cycles(graph).map((c) => c.map((f) => path.relative(root, f))), [['src/a.ts', 'src/c.ts', 'src/x/b.ts']]);
    t.deepEqual(graph.get(path.join(root, 'workers', 'w.ts')), [path.join(root, 'src', 'leaf.ts')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
