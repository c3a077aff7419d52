import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/**
 * The modules a source text imports: static imports and re-exports (`import type` included: a type
 * cycle is still a cycle in the design), side-effect imports, and dynamic `import('...')` with a literal
 * specifier. Comment lines are dropped first, so an import quoted in a doc comment does not count.
 * (TypeScript 7's compiler has no JavaScript API to ask, and the project's sources keep to these forms.)
 */
function specifiers(text: string): string[] {
  const code = text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .split('\n')
    .filter((l) => !/^\s*\/\//.test(l))
    .join('\n');
  const found: [number, string][] = [];
  for (const re of [/^[ \t]*(?:import|export)\s[^;'"]*?\sfrom\s*(['"])(.+?)\1/gm, /^[ \t]*import\s*(['"])(.+?)\1/gm, /\bimport\(\s*(['"])(.+?)\1\s*\)/g]) {
    for (const m of code.matchAll(re)) found.push([m.index, m[2] ?? '']);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, s]) => s);
}

function importsOf(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8')).filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s));
}

/** Each cycle once (as a path that returns to its start), by depth-first search over the graph. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

describe('src/ imports', () => {
  it('the cycle finder finds direct, indirect and self cycles, and none in a tree', () => {
    const g = (edges: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(edges));
    assert.deepEqual(findCycles(g({ a: ['b'], b: ['a'] })), [['a', 'b', 'a']]);
    assert.deepEqual(findCycles(g({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(findCycles(g({ a: ['a'] })), [['a', 'a']]);
    assert.deepEqual(findCycles(g({ a: ['b', 'c'], b: ['c'], c: [] })), []);
  });

  it('reads static, type-only, re-exported and dynamic imports, not ones in comments', () => {
    const text = [
      "import a from './a.ts';",
      'import type { B } from "./b.ts";',
      'import {',
      '  g,',
      "  type G,",
      "} from './g.ts';",
      "export { c } from './c.ts';",
      "export * as h from './h.ts';",
      "import './side-effect.ts';",
      'async function f(): Promise<void> {',
      "  const [{ d }, e] = await Promise.all([import('./d.ts'), import( '../e.ts' )]);",
      '}',
      "// import x from './x.ts'",
      "/** An example: `import y from './y.ts'` */",
      "const re = /from 'not-an-import'/;",
      "import fs from 'node:fs';",
    ].join('\n');
    assert.deepEqual(specifiers(text), ['./a.ts', './b.ts', './g.ts', './c.ts', './h.ts', './side-effect.ts', './d.ts', '../e.ts', 'node:fs']);
  });

  it('have no cycle', () => {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 40, `found ${files.length} source files under ${SRC}`);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    for (const [file, deps] of graph) for (const d of deps) assert.ok(graph.has(d), `${relative(SRC, file)} imports ${relative(SRC, d)}, which does not exist`);
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    assert.deepEqual(cycles, []);
  });
});
