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
 * `sub.written`), a subchart's `mergeOverwrite .Values.conf (dict …)`, and a `set . "touched" …` and a
 * `mergeOverwrite . (dict …)` inside `with .Values.cfg`, but not the parent's top-level `set .Values
 * "renderedAt" …`; helm v3.17.2, v3.22.0 and v4.3.2 stored none of them (the chart's values as published).
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
 * - unknown: anything else (`.` inside `with`/`range`/`define`, `.context.Values`, a function's result, a
 *   variable of mixed origin), recorded as "file: function on what", never with the template's text; with
 *   `set`/`unset` and a literal key, that key is recorded: it is the only one such a call can write.
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
  /**
   * Unknown target, `set`/`unset` with a literal key: the only key it can write, in whatever table the target
   * is (cilium's `set . "commonCA" …` in a define).
   */
  key?: string | undefined;
}

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
        if (quote === '"' && c === '\\') k++;
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
function parsePipeline(tokens: Token[], pos: { i: number }): Command[] {
  const cmds: Command[] = [];
  let cur: Command = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++] as Token;
    if (tok.t === ')') break;
    if (tok.t === '|') {
      cmds.push(cur);
      cur = [];
    } else if (tok.t === '(') cur.push({ k: 'pipe', pipe: parsePipeline(tokens, pos) });
    else cur.push({ k: 'tok', tok });
  }
  cmds.push(cur);
  return cmds.filter((c) => c.length > 0);
}

/** What a target evaluates to. */
type Target = { k: 'fresh' } | { k: 'static'; paths: string[][] } | { k: 'unknown'; what: string } | { k: 'self' };

interface Scope {
  /** `.` is not the template's top-level context (inside with/range/define/block). */
  rebound: boolean;
  /** Inside define/block: `$` is the argument, not the top-level context. */
  inDefine: boolean;
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

/** Every mutating call of one template file, with its target classified; fresh targets are left out. */
export function templateWrites(file: string, text: string): TemplateWrite[] {
  const assignments = new Map<string, Assignment[]>();
  const calls: Call[] = [];
  const stack: string[] = [];
  const scope = (): Scope => ({ rebound: stack.some((s) => REBINDING.has(s)), inDefine: stack.includes('define') || stack.includes('block') });

  const collectCalls = (cmds: Command[], sc: Scope): void => {
    for (const c of cmds) {
      const fn = fnName(c);
      if (fn && MUTATORS.has(fn)) calls.push({ fn, args: c.slice(1), scope: sc });
      for (const o of c) if (o.k === 'pipe') collectCalls(o.pipe, sc);
    }
  };

  for (const action of templateActions(text)) {
    const tokens = lexAction(action);
    let first = tokens[0];
    let i = 0;
    if (first?.t === 'ident' && first.v === 'else') {
      i = 1; // `else if`/`else with`: no new block
      first = tokens[1];
      if (first?.t === 'ident' && (first.v === 'with' || first.v === 'range' || first.v === 'if')) {
        i = 2;
        // `else with`/`else range` rebind `.` in their branch: the block counts as theirs from here on.
        if (first.v !== 'if' && stack.length) stack[stack.length - 1] = first.v;
      }
    } else if (first?.t === 'ident' && first.v === 'end') {
      stack.pop();
      continue;
    } else if (first?.t === 'ident' && BLOCKS.has(first.v)) {
      i = 1;
      stack.push(first.v);
    }
    const keyword = first?.t === 'ident' ? first.v : undefined;
    const sc = scope();
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
    collectCalls(parsePipeline(body, { i: 0 }), sc);
  }

  const resolving = new Set<string>();
  const variable = (name: string): Target => {
    if (resolving.has(name)) return { k: 'self' };
    const list = assignments.get(name);
    if (!list?.length) return { k: 'unknown', what: 'a variable' };
    resolving.add(name);
    try {
      const targets = list.map((a) => (a.ranged ? ({ k: 'unknown', what: 'a range variable' } as Target) : pipelineValue(a.rhs, a.scope)));
      return combine(targets.filter((t) => t.k !== 'self'), 'a variable');
    } finally {
      resolving.delete(name);
    }
  };

  const operand = (o: Operand | undefined, sc: Scope): Target => {
    if (!o) return { k: 'unknown', what: 'nothing' };
    if (o.k === 'pipe') return pipelineValue(o.pipe, sc);
    const tok = o.tok;
    if (tok.t !== 'field') return tok.t === 'str' ? { k: 'fresh' } : { k: 'unknown', what: 'a value' };
    if (tok.base === 'var') {
      const base = variable(tok.name ?? '');
      if (base.k === 'static') return tok.v.length ? { k: 'static', paths: base.paths.map((p) => [...p, ...tok.v]) } : base;
      if (base.k === 'fresh' || base.k === 'self') return base;
      return tok.v.length ? { k: 'unknown', what: 'a field of a variable' } : base;
    }
    // `.Values.a` (or `$.Values.a`): a path under the values of the chart whose context it is.
    if (tok.v[0] === 'Values') return { k: 'static', paths: [tok.v.slice(1)] };
    if (tok.base === '$') return sc.inDefine ? { k: 'unknown', what: tok.v.length ? `$.${tok.v.join('.')}` : '$' } : { k: 'fresh' };
    if (!sc.rebound) return { k: 'fresh' }; // the top-level context or one of its other members (.Release, .Capabilities)
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
      if (base.k === 'static' && keys.every((k) => k !== undefined)) return { k: 'static', paths: base.paths.map((p) => [...p, ...(keys as string[])]) };
      return base.k === 'fresh' ? base : { k: 'unknown', what: 'index' };
    }
    return { k: 'unknown', what: `the result of ${fn}` };
  };

  const out: TemplateWrite[] = [];
  for (const c of calls) {
    const target = operand(c.args[0], c.scope);
    if (target.k === 'fresh' || target.k === 'self') continue;
    const key = KEYED.has(c.fn) ? c.args[1] : undefined;
    const literal = key?.k === 'tok' && key.tok.t === 'str' ? key.tok.v : undefined;
    if (target.k === 'unknown') {
      out.push({ file, fn: c.fn, target: target.what, ...(literal !== undefined ? { key: literal } : {}) });
      continue;
    }
    const paths = target.paths.map((p) => (literal !== undefined ? [...p, literal] : p));
    // A write into the whole of `.Values` (a merge, or a key that is not a literal) may touch any value.
    if (paths.some((p) => p.length === 0)) out.push({ file, fn: c.fn, target: '.Values itself' });
    else out.push({ file, fn: c.fn, paths });
  }
  return out;
}

function combine(targets: Target[], what: string): Target {
  if (!targets.length) return { k: 'unknown', what };
  if (targets.every((t) => t.k === 'fresh')) return { k: 'fresh' };
  if (targets.every((t) => t.k === 'static')) return { k: 'static', paths: targets.flatMap((t) => (t.k === 'static' ? t.paths : [])) };
  const unknown = targets.find((t) => t.k === 'unknown');
  return unknown ?? { k: 'unknown', what: `${what} of mixed origin` };
}

/** The writes of a chart's templates (`templates/…` entries of its own files). */
export function chartTemplateWrites(files: Iterable<{ name: string; data: Uint8Array }>): TemplateWrite[] {
  const decoder = new TextDecoder('utf-8');
  const out: TemplateWrite[] = [];
  for (const f of files) {
    if (!f.name.startsWith('templates/')) continue;
    const text = decoder.decode(f.data);
    // Cheap filter: most templates call none of the six.
    if (!/\b(set|unset|merge|mergeOverwrite|mustMerge|mustMergeOverwrite)\b/.test(text)) continue;
    for (const w of templateWrites(f.name, text)) {
      if (!out.some((o) => JSON.stringify(o) === JSON.stringify(w))) out.push(w);
    }
  }
  return out;
}
