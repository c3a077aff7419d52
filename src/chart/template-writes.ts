/**
 * Which of a chart's values its own templates write to. Helm before 3.13 (before helm/helm 0a5148faf, "Fix
 * multiple bugs in values handling") built the render values by coalescing the user's values with the
 * chart's own *without copying them* (pkg/chartutil/coalesce.go at v3.12.3: a table the user did not
 * override is the chart's `c.Values` table itself), and stored the release (`chart.values`) after rendering.
 * A template that writes into such a table with one of sprig's mutating functions (`set`, `unset`, `merge`,
 * `mergeOverwrite`, `mustMerge`, `mustMergeOverwrite`: each changes its first argument) so changed what
 * Helm 3.0-3.12 stored. A subchart's `.Values` is the parent's table for it (engine.go recAllTpls:
 * `vals.Table("Values." + name)`), shared too; the parent's top-level map is a copy of the user's values.
 *
 * Observed with real helm on the test cluster (scripts/capture-template-write-fixtures.ts, the chart in
 * test/fixtures/template-writes/src/writes, kube-apiserver 1.35.4): helm v3.12.3 stored
 * `unset .Values.podSecurityContext "appArmorProfile"` (the key gone), `set .Values.serviceAccounts.operator.
 * annotations "eks.amazonaws.com/role-arn" …`, a subchart's `set .Values "written" …` (parent values
 * `sub.written`), a subchart's `mergeOverwrite .Values.conf (dict …)`, a `set . "touched" …` inside
 * `with .Values.cfg` and a `mergeOverwrite $c (dict …)` on a `range` element of `.Values.cfgs`, but not the
 * parent's top-level `set .Values "renderedAt" …`; helm v3.17.2, v3.22.0 and v4.3.2 stored none of them (the
 * chart's values as published).
 *
 * This module finds such writes in template text, without executing it: a light lexer and parser of Go's
 * text/template actions (comments, trim markers, raw and quoted strings, parenthesised pipelines, variable
 * declarations and assignments, the blocks that rebind `.`). Each mutating call's target is classified:
 * - static: a path under the chart's `.Values` (`.Values.a.b`, `$.Values.a.b`, `(index .Values "a" "b")`,
 *   or a variable every assignment of which in the file is such a path); with `set`/`unset` and a literal
 *   key the written path is the key's, otherwise the whole table (mergo writes deep);
 * - fresh (not recorded): a table the template made itself (`dict`, `list`, `deepCopy`, `fromYaml`, …, or a
 *   variable only ever assigned such tables, e.g. bitnami common's `$dst := dict` … `| merge $dst`), or the
 *   top-level context (`set $ …` outside a `define`, `set . …` at a file's top level);
 * - the argument of a named template (`.` at a `define`'s own level, or `$` in it): harmless when every
 *   `include`/`template` of that name in the whole chart tree passes the top-level context (cilium's
 *   `include "cilium.ca.setup" .` then `set . "commonCA" …`: a write into the context, never into values),
 *   resolved by resolveDefineWrites once the tree is read; else unknown;
 * - unknown: anything else (`.` inside `with`/`range`, `.context.Values`, a field of a table the template
 *   made (`pick`/`dict` copy shallowly: `$p.a` may be `.Values.a` itself), a function's result, a variable of
 *   mixed origin), recorded as "file: function on what", never with the template's text. An unknown write may
 *   have touched any value: differing values are then Unverified, never Verified (proof.ts).
 * Hostile text costs linear time: variables resolve once each, paths and writes are capped, nesting deeper
 * than MAX_NESTING or a file the analysis cannot read is one unknown write.
 * Pure: no I/O. Only the result is kept with the chart (HelmChart.templateWrites), never template text.
 */

/** One mutating call whose target is not a table the template made itself. */
export interface TemplateWrite {
  /** The template's path in its chart (`templates/x.yaml`). */
  file: string;
  /** The sprig function (`set`, `unset`, `merge`, …). */
  fn: string;
  /** Static: the written paths relative to the chart's `.Values` (a `[]` path is the whole of `.Values`). Absent: unknown target. */
  paths?: string[][] | undefined;
  /** Unknown: what the target is, in words (`a variable`, `.`). */
  target?: string | undefined;
  /** Static, written inside a `define`/`block`: it may run with another chart's context (proof.ts collectWrites). */
  inDefine?: true | undefined;
  /** Static: `set`/`unset` of a literal key directly on `.Values` (the parent's top-level map is a copy: never stored). */
  top?: true | undefined;
  /** Before resolveDefineWrites only: a write into this named template's argument. */
  define?: string | undefined;
}

/** An `include`/`template` of a named template, by what it passes: the top-level context, another define's argument, or anything else. */
export interface DefineCall {
  name: string;
  arg: 'root' | 'other' | { via: string };
}

/** Nesting of blocks beyond this, or of parentheses and variables, is no real chart's: the file is one unknown write. */
const MAX_NESTING = 64;
/** Static paths one target may stand for (a variable assigned many paths), and writes kept per chart. */
const MAX_PATHS = 64;
const MAX_WRITES = 256;
/** Distinct `include`/`template` calls kept per chart (cilium 1.15.6 has ~400). */
const MAX_CALLS = 4096;

class TooComplex extends Error {}

const MUTATORS = new Set(['set', 'unset', 'merge', 'mergeOverwrite', 'mustMerge', 'mustMergeOverwrite']);
const KEYED = new Set(['set', 'unset']);
/** Functions whose result is a table (or list, or string) made anew: writing into it changes no values. */
const FRESH = new Set(['dict', 'list', 'tuple', 'deepCopy', 'mustDeepCopy', 'fromYaml', 'fromJson', 'fromYamlArray', 'fromJsonArray', 'mustFromJson', 'pick', 'omit', 'include', 'tpl', 'toYaml', 'toJson', 'printf', 'print', 'quote', 'splitList', 'keys']);
/** Control words that rebind `.` (and, in define/block, `$`) up to their `end`. */
const REBINDING = new Set(['with', 'range', 'define', 'block']);
const BLOCKS = new Set(['if', 'with', 'range', 'define', 'block']);

type Token =
  | { t: 'field'; v: string[]; base: '.' | '$' | 'var'; name?: string } // .a.b, $.a.b, $x.a.b ([] fields: `.`, `$`, `$x`)
  | { t: 'str'; v: string }
  | { t: 'ident'; v: string }
  | { t: '(' }
  | { t: ')' }
  | { t: '|' }
  | { t: 'decl'; v: ':=' | '=' }
  | { t: ',' }
  | { t: 'other' };

/** The actions of a template (text between `{{` and `}}`), comments dropped. */
export function templateActions(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    const open = text.indexOf('{{', i);
    if (open < 0) return out;
    let j = open + 2;
    if (text[j] === '-' && /\s/.test(text[j + 1] ?? '')) j += 1;
    while (/\s/.test(text[j] ?? '')) j++;
    if (text.startsWith('/*', j)) {
      const close = text.indexOf('*/', j + 2);
      if (close < 0) return out;
      const end = text.indexOf('}}', close + 2);
      if (end < 0) return out;
      i = end + 2;
      continue;
    }
    // Scan to the closing `}}` outside string literals.
    let k = j;
    let quote: string | undefined;
    for (; k < text.length; k++) {
      const c = text[k];
      if (quote) {
        if ((quote === '"' || quote === "'") && c === '\\') k++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === '"' || c === '`' || c === "'") quote = c;
      else if (c === '}' && text[k + 1] === '}') break;
    }
    if (k >= text.length) return out;
    let body = text.slice(j, k);
    if (/\s-$/.test(body)) body = body.slice(0, -1);
    out.push(body.trim());
    i = k + 2;
  }
}

function unquote(s: string): string {
  if (s.startsWith('`')) return s.slice(1, -1);
  try {
    return JSON.parse(s) as string;
  } catch {
    return s.slice(1, -1);
  }
}

function fieldsOf(chain: string): string[] {
  return chain.split('.').filter((x) => x !== '');
}

export function lexAction(action: string): Token[] {
  const out: Token[] = [];
  const re = /\s+|"(?:\\.|[^"\\])*"|`[^`]*`|'(?:\\.|[^'\\])*'|:=|=|\||\(|\)|,|\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|(?:\.[A-Za-z0-9_]+)+|\.|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|[^\s()|,]+/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(action))) {
    const s = m[0];
    if (/^\s/.test(s)) continue;
    if (s.startsWith('"') || s.startsWith('`')) out.push({ t: 'str', v: unquote(s) });
    else if (s === ':=' || s === '=') out.push({ t: 'decl', v: s });
    else if (s === '|' || s === '(' || s === ')' || s === ',') out.push({ t: s });
    else if (s.startsWith('$')) {
      const [name = '$', ...rest] = s.split('.');
      out.push(name === '$' ? { t: 'field', v: rest, base: '$' } : { t: 'field', v: rest, base: 'var', name });
    } else if (s.startsWith('.')) out.push({ t: 'field', v: fieldsOf(s), base: '.' });
    else if (/^[A-Za-z_]/.test(s)) out.push({ t: 'ident', v: s });
    else out.push({ t: 'other' });
  }
  return out;
}

/** An operand: a token, or a parenthesised pipeline. */
type Operand = { k: 'tok'; tok: Token } | { k: 'pipe'; pipe: Command[] };
type Command = Operand[];

/** Commands of a pipeline (`a b | c d`), with parenthesised sub-pipelines nested. */
function parsePipeline(tokens: Token[], pos: { i: number }, depth = 0): Command[] {
  if (depth > MAX_NESTING) throw new TooComplex();
  const cmds: Command[] = [];
  let cur: Command = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++] as Token;
    if (tok.t === ')') break;
    if (tok.t === '|') {
      cmds.push(cur);
      cur = [];
    } else if (tok.t === '(') cur.push({ k: 'pipe', pipe: parsePipeline(tokens, pos, depth + 1) });
    else cur.push({ k: 'tok', tok });
  }
  cmds.push(cur);
  return cmds.filter((c) => c.length > 0);
}

/** What a target evaluates to. */
type Target =
  | { k: 'fresh' }
  | { k: 'static'; paths: string[][] }
  | { k: 'unknown'; what: string }
  | { k: 'self' }
  /** The top-level context itself (`.` or `$` outside blocks that rebind it): its `Values` is static, nothing else is values. */
  | { k: 'root' }
  /** A named template's argument itself. */
  | { k: 'arg'; define: string };

interface Scope {
  /** `.` is not the template's top-level context (inside with/range/define/block). */
  rebound: boolean;
  /** Inside define/block: `$` is the argument, not the top-level context. */
  inDefine: boolean;
  /** The innermost `define`'s name (not `block`'s: it runs in place with its own pipeline). */
  define?: string | undefined;
  /** `.` is that define's argument: no with/range inside it rebinds `.`. */
  dotIsArg: boolean;
  /** Inside `with <pipeline>` (not its `else`): `.` is that pipeline's value, evaluated where the `with` stands. */
  dotFrom?: { cmds: Command[]; scope: Scope } | undefined;
}

/** An open block: its keyword, a define's name, and for `with` the pipeline `.` takes inside. */
interface Frame {
  kind: string;
  name?: string | undefined;
  dot?: Scope['dotFrom'];
}

interface Assignment {
  rhs: Command[];
  scope: Scope;
  /** A range declaration: the variables take the elements (or keys) of the ranged value. */
  ranged: boolean;
}

interface Call {
  fn: string;
  args: Operand[];
  scope: Scope;
}

const fnName = (c: Command): string | undefined => {
  const first = c[0];
  return first?.k === 'tok' && first.tok.t === 'ident' ? first.tok.v : undefined;
};

/** The writes and named-template calls of one template file. */
export interface FileAnalysis {
  writes: TemplateWrite[];
  calls: DefineCall[];
}

/** Every mutating call of one template file, with its target classified; fresh targets are left out. */
export function templateWrites(file: string, text: string): TemplateWrite[] {
  return analyzeTemplate(file, text).writes;
}

/** The writes (fresh targets left out) and the `include`/`template` calls of one template file. */
export function analyzeTemplate(file: string, text: string): FileAnalysis {
  const assignments = new Map<string, Assignment[]>();
  const calls: Call[] = [];
  const includes: { name: string; arg: Operand | undefined; scope: Scope }[] = [];
  const stack: Frame[] = [];
  const scopeOf = (frames: readonly Frame[]): Scope => {
    let define: string | undefined;
    let dotIsArg = false;
    let dotFrom: Scope['dotFrom'];
    for (const f of frames) {
      if (f.kind === 'define') {
        define = f.name;
        dotIsArg = f.name !== undefined;
        dotFrom = undefined;
      } else if (f.kind === 'block') {
        define = undefined;
        dotIsArg = false;
        dotFrom = undefined;
      } else if (f.kind === 'with' || f.kind === 'range') {
        dotIsArg = false;
        dotFrom = f.dot;
      }
    }
    return { rebound: frames.some((f) => REBINDING.has(f.kind)), inDefine: frames.some((f) => f.kind === 'define' || f.kind === 'block'), define, dotIsArg, dotFrom };
  };
  const scope = (): Scope => scopeOf(stack);

  const collectCalls = (cmds: Command[], sc: Scope): void => {
    for (const c of cmds) {
      const fn = fnName(c);
      if (fn && MUTATORS.has(fn)) calls.push({ fn, args: c.slice(1), scope: sc });
      const name = c[1];
      // A computed name may be any define's: '*' (resolveDefineWrites holds it against every define).
      if (fn === 'include') includes.push({ name: name?.k === 'tok' && name.tok.t === 'str' ? name.tok.v : '*', arg: c[2], scope: sc });
      for (const o of c) if (o.k === 'pipe') collectCalls(o.pipe, sc);
    }
  };

  for (const action of templateActions(text)) {
    const tokens = lexAction(action);
    let withDot: Frame | undefined;
    // The scope the action's own pipeline is evaluated in: outside the `with` it opens (or continues with `else with`).
    let outer = scope();
    let first = tokens[0];
    let i = 0;
    if (first?.t === 'ident' && first.v === 'else') {
      i = 1; // `else if`/`else with`: no new block
      first = tokens[1];
      if (first?.t === 'ident' && (first.v === 'with' || first.v === 'range' || first.v === 'if')) {
        i = 2;
        // `else with`/`else range` rebind `.` in their branch: the block counts as theirs from here on.
        const top = stack[stack.length - 1];
        if (first.v !== 'if' && top) {
          top.kind = first.v;
          top.dot = undefined;
          if (first.v === 'with') {
            withDot = top;
            outer = scopeOf(stack.slice(0, -1));
          }
        }
      }
      if (first?.t !== 'ident' || first.v !== 'with') {
        // A plain `else` or `else if` of a `with`: `.` is the outer one again, which is not tracked here (unknown).
        const top = stack[stack.length - 1];
        if (top) top.dot = undefined;
      }
    } else if (first?.t === 'ident' && first.v === 'end') {
      stack.pop();
      continue;
    } else if (first?.t === 'ident' && BLOCKS.has(first.v)) {
      i = 1;
      const name = tokens[1];
      const frame: Frame = { kind: first.v, name: first.v === 'define' && name?.t === 'str' ? name.v : undefined };
      if (first.v === 'with') withDot = frame;
      stack.push(frame);
      // Scanned per action: past this depth no chart is real, and the scan would cost depth × actions.
      if (stack.length > MAX_NESTING) throw new TooComplex();
    } else if (first?.t === 'ident' && first.v === 'template') {
      const name = tokens[1];
      const rest = parsePipeline(tokens.slice(2), { i: 0 });
      // `{{ template "x" pipeline }}`: the argument is the whole pipeline after the name.
      includes.push({ name: name?.t === 'str' ? name.v : '*', arg: rest.length ? { k: 'pipe', pipe: rest } : undefined, scope: scope() });
      continue;
    }
    const keyword = first?.t === 'ident' ? first.v : undefined;
    // The `with` opened by this action: `.` inside is the pipeline's value where the `with` stands.
    const sc = withDot ? outer : scope();
    // `$a, $b := …` / `$a := …` / `$a = …`
    const rest = tokens.slice(i);
    const declAt = rest.findIndex((t) => t.t === 'decl');
    let body = rest;
    if (declAt > 0 && rest.slice(0, declAt).every((t) => (t.t === 'field' && t.base === 'var' && t.v.length === 0) || t.t === ',')) {
      const rhs = parsePipeline(rest.slice(declAt + 1), { i: 0 });
      for (const t of rest.slice(0, declAt)) {
        if (t.t !== 'field' || !t.name) continue;
        let list = assignments.get(t.name);
        if (!list) assignments.set(t.name, (list = []));
        list.push({ rhs, scope: sc, ranged: keyword === 'range' && i > 0 });
      }
      body = rest.slice(declAt + 1);
    }
    const cmds = parsePipeline(body, { i: 0 });
    if (withDot) withDot.dot = { cmds, scope: sc };
    collectCalls(cmds, sc);
  }

  // Each variable resolves once (a chain of variables each assigned from the previous twice would otherwise
  // cost 2^n); a variable met again while it resolves is `self`; a chain deeper than MAX_NESTING is too complex.
  const resolved = new Map<string, Target>();
  const resolving = new Set<string>();
  let depth = 0;
  const variable = (name: string): Target => {
    const known = resolved.get(name);
    if (known) return known;
    if (resolving.has(name)) return { k: 'self' };
    const list = assignments.get(name);
    if (!list?.length) return { k: 'unknown', what: 'a variable' };
    if (++depth > MAX_NESTING) throw new TooComplex();
    resolving.add(name);
    try {
      const targets = list.map((a) => (a.ranged ? ({ k: 'unknown', what: 'a range variable' } as Target) : pipelineValue(a.rhs, a.scope)));
      const t = combine(targets.filter((x) => x.k !== 'self'), 'a variable');
      resolved.set(name, t);
      return t;
    } finally {
      resolving.delete(name);
      depth--;
    }
  };

  /** Fields under a target: `.Values…` of the top-level context is static, other fields of it are no values; fields of anything else are unknown. */
  const fieldOf = (base: Target, fields: string[]): Target => {
    if (!fields.length) return base;
    if (base.k === 'static') return staticTarget(base.paths.map((p) => [...p, ...fields]));
    if (base.k === 'root' || base.k === 'arg') {
      if (fields[0] === 'Values') return staticTarget([fields.slice(1)]);
      // `.Subcharts.<name>.Values` (Helm 3's engine puts each subchart's context there): that subchart's shared table.
      if (fields[0] === 'Subcharts') return { k: 'unknown', what: '.Subcharts' };
      return base.k === 'root' ? { k: 'fresh' } : { k: 'unknown', what: `.${fields[0]}` };
    }
    // A table the template made may hold values tables (`pick .Values "a"`, `dict "x" .Values.a`: shallow).
    if (base.k === 'fresh') return { k: 'unknown', what: 'a field of a table the template made' };
    return base.k === 'self' ? base : { k: 'unknown', what: 'a field of a variable' };
  };

  const operand = (o: Operand | undefined, sc: Scope): Target => {
    if (!o) return { k: 'unknown', what: 'nothing' };
    if (o.k === 'pipe') return pipelineValue(o.pipe, sc);
    const tok = o.tok;
    if (tok.t !== 'field') return tok.t === 'str' ? { k: 'fresh' } : { k: 'unknown', what: 'a value' };
    if (tok.base === 'var') return fieldOf(variable(tok.name ?? ''), tok.v);
    // `.Values.a` (or `$.Values.a`): a path under the values of the chart whose context it is.
    if (tok.v[0] === 'Values') return staticTarget([tok.v.slice(1)]);
    // `$` is the top-level context, or in a named template its argument.
    if (tok.base === '$') return fieldOf(!sc.inDefine ? { k: 'root' } : sc.define !== undefined ? { k: 'arg', define: sc.define } : { k: 'unknown', what: '$' }, tok.v);
    if (!sc.rebound) return fieldOf({ k: 'root' }, tok.v);
    if (sc.dotIsArg && sc.define !== undefined) return fieldOf({ k: 'arg', define: sc.define }, tok.v);
    if (sc.dotFrom) {
      if (++depth > MAX_NESTING) throw new TooComplex();
      try {
        return fieldOf(pipelineValue(sc.dotFrom.cmds, sc.dotFrom.scope), tok.v);
      } finally {
        depth--;
      }
    }
    return { k: 'unknown', what: tok.v.length ? `.${tok.v[0]}` : '.' };
  };

  /** The value of a pipeline: its last command's. */
  const pipelineValue = (cmds: Command[], sc: Scope): Target => {
    const last = cmds[cmds.length - 1];
    if (!last) return { k: 'unknown', what: 'nothing' };
    const fn = fnName(last);
    if (!fn) return last.length === 1 ? operand(last[0], sc) : { k: 'unknown', what: 'a value' };
    if (MUTATORS.has(fn)) return operand(last[1], sc); // returns its (first) target
    if (FRESH.has(fn)) return { k: 'fresh' };
    if (fn === 'index') {
      const base = operand(last[1], sc);
      const keys = last.slice(2).map((o) => (o.k === 'tok' && o.tok.t === 'str' ? o.tok.v : undefined));
      if (keys.every((k) => k !== undefined)) return fieldOf(base, keys as string[]);
      return { k: 'unknown', what: 'index' };
    }
    return { k: 'unknown', what: `the result of ${fn}` };
  };

  const writes: TemplateWrite[] = [];
  for (const c of calls) {
    const target = operand(c.args[0], c.scope);
    if (target.k === 'fresh' || target.k === 'self' || target.k === 'root') continue;
    const key = KEYED.has(c.fn) ? c.args[1] : undefined;
    const literal = key?.k === 'tok' && key.tok.t === 'str' ? key.tok.v : undefined;
    if (target.k === 'arg') {
      writes.push({ file, fn: c.fn, target: '.', define: target.define });
      continue;
    }
    if (target.k === 'unknown') {
      writes.push({ file, fn: c.fn, target: target.what });
      continue;
    }
    const paths = target.paths.map((p) => (literal !== undefined ? [...p, literal] : p));
    // A write into the whole of `.Values` (a merge, or a key that is not a literal) may touch any value.
    if (paths.some((p) => p.length === 0)) {
      writes.push({ file, fn: c.fn, target: '.Values itself' });
      continue;
    }
    const top = literal !== undefined && target.paths.some((p) => p.length === 0);
    writes.push({ file, fn: c.fn, paths, ...(c.scope.inDefine ? { inDefine: true as const } : {}), ...(top ? { top: true as const } : {}) });
  }
  const defineCalls = includes.map(({ name, arg, scope: sc }): DefineCall => {
    const t = operand(arg, sc);
    return { name, arg: t.k === 'root' ? 'root' : t.k === 'arg' ? { via: t.define } : 'other' };
  });
  return { writes, calls: defineCalls };
}

function staticTarget(paths: string[][]): Target {
  return paths.length > MAX_PATHS ? { k: 'unknown', what: 'a variable of too many paths' } : { k: 'static', paths };
}

function combine(targets: Target[], what: string): Target {
  if (!targets.length) return { k: 'unknown', what };
  if (targets.every((t) => t.k === 'fresh')) return { k: 'fresh' };
  if (targets.every((t) => t.k === 'root')) return { k: 'root' };
  if (targets.every((t) => t.k === 'static')) return staticTarget(targets.flatMap((t) => (t.k === 'static' ? t.paths : [])));
  const unknown = targets.find((t) => t.k === 'unknown');
  return unknown ?? { k: 'unknown', what: `${what} of mixed origin` };
}

/** The writes and named-template calls of a chart's templates (`templates/…` entries of its own files). */
export function chartTemplateWrites(files: Iterable<{ name: string; data: Uint8Array }>): FileAnalysis {
  const decoder = new TextDecoder('utf-8');
  const writes: TemplateWrite[] = [];
  const calls: DefineCall[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    if (!f.name.startsWith('templates/')) continue;
    const text = decoder.decode(f.data);
    // Cheap filter: most templates call none of the six and include nothing.
    const writesSome = /\b(set|unset|merge|mergeOverwrite|mustMerge|mustMergeOverwrite)\b/.test(text);
    if (!writesSome && !/\b(include|template)\b/.test(text)) continue;
    let found: FileAnalysis;
    try {
      found = analyzeTemplate(f.name, text);
    } catch (err) {
      if (!(err instanceof TooComplex) && !(err instanceof RangeError)) throw err;
      // Nested past any real chart's depth: whatever it writes is unknown (and any define it holds too).
      found = { writes: writesSome ? [{ file: f.name, fn: 'set', target: 'a template too deeply nested to analyse' }] : [], calls: [] };
    }
    for (const w of found.writes) {
      const key = JSON.stringify(w);
      if (!seen.has(key)) {
        seen.add(key);
        writes.push(w);
      }
    }
    for (const c of found.calls) {
      const key = JSON.stringify(c);
      if (!seen.has(key)) {
        seen.add(key);
        calls.push(c);
      }
    }
  }
  if (writes.length > MAX_WRITES) return { writes: [{ file: 'templates/', fn: 'set', target: `more than ${MAX_WRITES} places` }], calls: calls.slice(0, MAX_CALLS) };
  // Past MAX_CALLS distinct calls, one computed-name call that passes no context: no define's argument is proven.
  return { writes, calls: calls.length > MAX_CALLS ? [{ name: '*', arg: 'other' }] : calls };
}

/**
 * Once the whole chart tree is read (named templates are global across a chart and its subcharts): a write
 * into a define's argument is dropped when every call of that define passes the top-level context, directly
 * or through other defines called so; otherwise it stays, as an unknown write. `calls` are the tree's.
 */
export function resolveDefineWrites(writes: TemplateWrite[], calls: readonly DefineCall[]): TemplateWrite[] {
  const byName = new Map<string, DefineCall['arg'][]>();
  for (const c of calls) {
    let list = byName.get(c.name);
    if (!list) byName.set(c.name, (list = []));
    list.push(c.arg);
  }
  // An include whose name is computed may call any define: its argument counts for every name.
  const anyName = byName.get('*') ?? [];
  const memo = new Map<string, boolean>();
  const rootOnly = (name: string, visiting: Set<string>): boolean => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    // A cycle, or a chain of defines deeper than any real chart's (a stack a hostile chart could overflow): not proven.
    if (visiting.has(name) || visiting.size > MAX_NESTING) return false;
    visiting.add(name);
    const args = [...(byName.get(name) ?? []), ...anyName];
    const ok = args.length > 0 && args.every((a) => a === 'root' || (typeof a === 'object' && rootOnly(a.via, visiting)));
    visiting.delete(name);
    memo.set(name, ok);
    return ok;
  };
  const out: TemplateWrite[] = [];
  for (const w of writes) {
    if (w.define === undefined) {
      out.push(w);
      continue;
    }
    if (rootOnly(w.define, new Set())) continue;
    const { define, ...rest } = w;
    out.push({ ...rest, target: `the argument of "${define}"` });
  }
  return out;
}
