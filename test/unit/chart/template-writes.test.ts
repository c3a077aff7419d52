/**
 * The analysis of what a chart's templates write into its values (src/chart/template-writes.ts), on real
 * template bytes: cilium 1.15.6's (test/fixtures/template-writes/cilium-1.15.6, Apache-2.0), the capture
 * chart's (test/fixtures/template-writes/src/writes) and hand-written cases of Go template syntax.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chartTemplateWrites, resolveDefineWrites, templateWrites } from '../../../src/chart/template-writes.ts';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { chartFromJson, treeJson } from '../../../src/chart/helm-install.ts';
import { FIXTURES } from '../helpers.ts';

const CILIUM = `${FIXTURES}template-writes/cilium-1.15.6/`;
const cilium = (f: string) => templateWrites(f, readFileSync(`${CILIUM}${f}`, 'utf8'));

describe('template writes: cilium 1.15.6', () => {
  it('finds the unset of podSecurityContext.appArmorProfile (a static path and literal key)', () => {
    assert.deepEqual(cilium('templates/cilium-agent/daemonset.yaml'), [{ file: 'templates/cilium-agent/daemonset.yaml', fn: 'unset', paths: [['podSecurityContext', 'appArmorProfile']] }]);
  });
  it('finds the set of the operator service account annotation (a key with dots and a slash)', () => {
    assert.deepEqual(cilium('templates/cilium-operator/serviceaccount.yaml'), [{ file: 'templates/cilium-operator/serviceaccount.yaml', fn: 'set', paths: [['serviceAccounts', 'operator', 'annotations', 'eks.amazonaws.com/role-arn']] }]);
  });
  it('a set on a fresh dict is not a write; a set on `.` inside a define writes into its argument', () => {
    assert.deepEqual(cilium('templates/cilium-secrets-namespace.yaml'), []);
    assert.deepEqual(cilium('templates/hubble/tls-helm/_helpers.tpl'), [{ file: 'templates/hubble/tls-helm/_helpers.tpl', fn: 'set', target: '.', define: 'hubble-generate-certs.helm.setup-ca' }]);
    // `set (set . "commonCA" $ca) "commonCASecretName" …`: both calls write into the define's argument.
    const write = { file: 'templates/_helpers.tpl', fn: 'set', target: '.', define: 'cilium.ca.setup' };
    assert.deepEqual(cilium('templates/_helpers.tpl'), [write, write]);
  });
  it('every call of those defines passes the top-level context (directly, or through the other define): no write into values is left', () => {
    const files = ['templates/_helpers.tpl', 'templates/hubble/tls-helm/_helpers.tpl', 'templates/cilium-ca-secret.yaml', 'templates/hubble/tls-helm/server-secret.yaml'];
    const { writes, calls } = chartTemplateWrites(files.map((name) => ({ name, data: readFileSync(`${CILIUM}${name}`) })));
    assert.deepEqual(calls.filter((c) => c.name === 'cilium.ca.setup' || c.name === 'hubble-generate-certs.helm.setup-ca'), [
      { name: 'cilium.ca.setup', arg: { via: 'hubble-generate-certs.helm.setup-ca' } },
      { name: 'cilium.ca.setup', arg: 'root' },
      { name: 'hubble-generate-certs.helm.setup-ca', arg: 'root' },
    ]);
    assert.equal(writes.length, 2);
    assert.deepEqual(resolveDefineWrites(writes, calls), []);
    // Without the calls from files, nothing says what the argument is: the writes stay, unknown.
    assert.deepEqual(resolveDefineWrites(writes, []).map((w) => w.target), ['the argument of "cilium.ca.setup"', 'the argument of "hubble-generate-certs.helm.setup-ca"']);
  });
});

describe('template writes: Go template syntax', () => {
  const w = (text: string) => templateWrites('templates/t.yaml', text).map((x) => (x.paths ? `${x.fn} ${x.paths.map((p) => p.join('.')).join('|')}` : `${x.fn} ? ${x.target}`));
  it('prefix and pipeline forms: the first explicit argument is the target', () => {
    assert.deepEqual(w('{{ $_ := set .Values.a "k" 1 }}{{ "v" | set $.Values.b `raw` }}{{ $x := .Values.c }}{{ .Values.src | merge $x }}'), ['set a.k', 'set b.raw', 'merge c']);
  });
  it('merge writes the whole table; a non-literal key writes the whole table', () => {
    assert.deepEqual(w('{{- $_ := mergeOverwrite .Values.a.b (dict "x" 1) -}}{{ $_ := set .Values.t .Values.key 1 }}{{ $_ := mustMerge (.Values.p) .Values.q }}'), ['mergeOverwrite a.b', 'set t', 'mustMerge p']);
  });
  it('index with literals is a static path; parenthesised sub-pipelines are followed', () => {
    assert.deepEqual(w('{{ $_ := unset (index .Values "a" "b-c") "k" }}{{ $_ := set (index .Values .x) "k" 1 }}'), ['unset a.b-c.k', 'set ? index']);
  });
  it('comments and strings holding }} or a function name are no actions', () => {
    assert.deepEqual(w('{{/* {{ set .Values.a "k" 1 }} */}}{{- /* unset .Values.b "k" */ -}}{{ print "}} set .Values.c" }}x: {{ "merge" }}'), []);
  });
  it('fresh tables: dict, deepCopy, fromYaml, and a variable only ever assigned fresh tables (bitnami common)', () => {
    const bitnami = '{{- define "common.tplvalues.merge" -}}\n{{- $dst := dict -}}\n{{- range .values -}}\n{{- $dst = include "common.tplvalues.render" (dict "value" . "context" $.context "scope" $.scope) | fromYaml | merge $dst -}}\n{{- end -}}\n{{ $dst | toYaml }}\n{{- end -}}';
    assert.deepEqual(w(bitnami), []);
    assert.deepEqual(w('{{ $c := deepCopy .Values.a }}{{ $_ := set $c "k" 1 }}{{ $y := .Values.b | toYaml | fromYaml }}{{ $_ := merge $y .Values.c }}{{ $_ := set (dict) "k" 1 }}'), []);
  });
  it('the top-level context is not values: set $ / set . at top level / .Capabilities', () => {
    assert.deepEqual(w('{{ $_ := set $ "k" 1 }}{{ $_ := set . "k" 1 }}{{ $_ := set .Release "k" 1 }}'), []);
  });
  it('unknown: `.` in range or a with of no static value, .context.Values, a function result, mixed or range variables', () => {
    assert.deepEqual(w('{{ with .Values.a | default (dict) }}{{ $_ := set . "k" 1 }}{{ end }}'), ['set ? the result of default']);
    assert.deepEqual(w('{{ with .Values.a }}{{ else }}{{ $_ := set . "k" 1 }}{{ end }}'), ['set ? .']);
    assert.deepEqual(w('{{ range .Values.l }}{{ $_ := unset . "k" }}{{ end }}'), ['unset ? .']);
    assert.deepEqual(w('{{ define "x" }}{{ $_ := set $ "k" 1 }}{{ $_ := set .context.Values "k" 1 }}{{ end }}'), ['set ? .', 'set ? .context']);
    assert.deepEqual(w('{{ $_ := set (default (dict) .Values.a) "k" 1 }}'), ['set ? the result of default']);
    assert.deepEqual(w('{{ $m := dict }}{{ if .Values.x }}{{ $m = .Values.a }}{{ end }}{{ $_ := set $m "k" 1 }}'), ['set ? a variable of mixed origin']);
    assert.deepEqual(w('{{ range $k, $v := .Values.m }}{{ $_ := set $v "k" 1 }}{{ end }}'), ['set ? a range variable']);
    assert.deepEqual(w('{{ $_ := set .Values "k" 1 }}{{ $_ := merge .Values (dict) }}'), ['set k', 'merge ? .Values itself']);
  });
  it('`with` a static value: `.` inside is that table (else with too); its plain else is not', () => {
    assert.deepEqual(w('{{ with .Values.a }}{{ $_ := set . "k" 1 }}{{ $_ := mergeOverwrite .b (dict) }}{{ else with $.Values.c }}{{ $_ := unset . "u" }}{{ end }}'), ['set a.k', 'mergeOverwrite a.b', 'unset c.u']);
  });
  it('the top-level context kept in a variable ($root := .) is still the context: its .Values is static', () => {
    assert.deepEqual(w('{{ $root := . }}{{ $_ := set $root.Values.a "k" 1 }}{{ $top := $ }}{{ $_ := mergeOverwrite $top.Values.b (dict) }}{{ $_ := set $root "k" 1 }}'), ['set a.k', 'mergeOverwrite b']);
  });
  it('a field of a table the template made is unknown (pick and dict copy shallowly: it may be a values table)', () => {
    assert.deepEqual(w('{{ $p := pick .Values "a" }}{{ $_ := set $p.a "k" 1 }}{{ $d := dict "x" .Values.b }}{{ $_ := set (index $d "x") "k" 1 }}'), ['set ? a field of a table the template made', 'set ? a field of a table the template made']);
  });
  it('marks: a write in a define (it may run with another chart), and a set/unset directly on .Values (the parent never stores it)', () => {
    const marks = templateWrites('t', '{{ $_ := set .Values "top" 1 }}{{ $_ := set .Values.a "k" 1 }}{{ define "d" }}{{ $_ := set .Values.b "k" 1 }}{{ end }}').map((x) => [x.paths?.[0]?.join('.'), x.top ?? false, x.inDefine ?? false]);
    assert.deepEqual(marks, [['top', true, false], ['a.k', false, false], ['b.k', false, true]]);
  });
  it('the else and else-if branches of a `with` see the outer `.`: unknown there, never the with value', () => {
    assert.deepEqual(w('{{ range .Values.items }}{{ with $.Values.defaults }}{{ else if true }}{{ $_ := set . "touched" 1 }}{{ end }}{{ end }}'), ['set ? .']);
  });
  it('.Subcharts.<name>.Values is a subchart\'s shared table: unknown', () => {
    assert.deepEqual(w('{{ $_ := set .Subcharts.sub.Values "written" 1 }}'), ['set ? .Subcharts']);
  });
  it('an include of a computed name, or a template with a values argument, keeps a define\'s argument writes', () => {
    const enc = new TextEncoder();
    const resolved = (main: string) => {
      const { writes, calls } = chartTemplateWrites([{ name: 'templates/_d.tpl', data: enc.encode('{{ define "w" }}{{ $_ := set . "k" 1 }}{{ end }}') }, { name: 'templates/m.yaml', data: enc.encode(main) }]);
      return resolveDefineWrites(writes, calls).map((x) => x.target);
    };
    assert.deepEqual(resolved('{{ include "w" . }}'), []);
    assert.deepEqual(resolved('{{ include "w" . }}{{ include (print "w") .Values.a }}'), ['the argument of "w"']);
    assert.deepEqual(resolved('{{ template "w" .Values.a }}'), ['the argument of "w"']);
    assert.deepEqual(resolved('{{ template "w" . }}'), []);
  });
  it('a chain of defines deeper than any real chart is not proven (and overflows no stack)', () => {
    const enc = new TextEncoder();
    let t = '{{ define "d0" }}{{ $_ := set . "k" 1 }}{{ end }}';
    for (let i = 1; i < 20_000; i++) t += `{{ define "d${i}" }}{{ include "d${i - 1}" . }}{{ end }}`;
    const { writes, calls } = chartTemplateWrites([{ name: 'templates/_d.tpl', data: enc.encode(t) }, { name: 'templates/m.yaml', data: enc.encode('{{ include "d19999" . }}') }]);
    assert.deepEqual(resolveDefineWrites(writes, calls).map((x) => x.target), ['the argument of "d0"']);
  });
  it('a char literal holding a quote does not hide the actions after it', () => {
    assert.deepEqual(w("{{ $c := '\\'' }}{{ $_ := set .Values.z \"k\" 1 }}"), ['set z.k']);
  });
  it('a variable assigned only static paths resolves to them, fields of it too', () => {
    assert.deepEqual(w('{{ $sa := .Values.sa }}{{ if .Values.x }}{{ $sa = $.Values.other }}{{ end }}{{ $_ := set $sa.annotations "k" 1 }}'), ['set sa.annotations.k|other.annotations.k']);
  });
});

describe('template writes: hostile text costs linear time and stays contained', () => {
  const enc = new TextEncoder();
  const one = (name: string, text: string) => chartTemplateWrites([{ name, data: enc.encode(text) }]).writes.map((x) => x.target ?? x.paths?.map((p) => p.join('.')).join('|'));
  it('a chain of variables each assigned twice from the previous (2^n paths): capped, unknown', () => {
    let t = '{{ $v0 := .Values.a }}';
    for (let i = 1; i < 40; i++) t += `{{ $v${i} := $v${i - 1} }}{{ $v${i} = $v${i - 1}.x }}`;
    assert.deepEqual(one('templates/c.yaml', `${t}{{ $_ := set $v39 "k" 1 }}`), ['a variable of too many paths']);
  });
  it('blocks or parentheses nested past any real chart: the file is one unknown write, nothing thrown', () => {
    assert.deepEqual(one('templates/n.yaml', `${'{{ if 1 }}'.repeat(100_000)}{{ $_ := set .Values.a "k" 1 }}`), ['a template too deeply nested to analyse']);
    assert.deepEqual(one('templates/p.yaml', `{{ $_ := set ${'('.repeat(5000)}.Values.a${')'.repeat(5000)} "k" 1 }}`), ['a template too deeply nested to analyse']);
  });
  it('more writes than MAX_WRITES: one unknown write for the chart', () => {
    let t = '';
    for (let i = 0; i < 300; i++) t += `{{ $_ := set .Values.a${i} "k" 1 }}`;
    assert.deepEqual(one('templates/m.yaml', t), ['more than 256 places']);
  });
});

describe('template writes in the chart tree', () => {
  it('kept per chart in treeJson (parent and subchart), without template text', () => {
    const { tree } = readChartTree(readFileSync(`${FIXTURES}template-writes/writes-1.0.0.tgz`));
    const json = treeJson(tree);
    assert.ok(!json.includes('apiVersion: v1'), 'no template text');
    const back = chartFromJson(json);
    assert.deepEqual(back.templateWrites?.map((x) => [x.fn, x.paths?.map((p) => p.join('.')), x.top ?? false]), [
      ['unset', ['podSecurityContext.appArmorProfile'], false],
      ['set', ['serviceAccounts.operator.annotations.eks.amazonaws.com/role-arn'], false],
      ['set', ['renderedAt'], true],
      ['set', ['cfg.touched'], false],
      ['mergeOverwrite', undefined, false],
    ]);
    assert.deepEqual(back.subcharts[0]?.templateWrites?.map((x) => [x.fn, x.paths?.map((p) => p.join('.'))]), [
      ['set', ['written']],
      ['mergeOverwrite', ['conf']],
    ]);
  });
  it('only templates/ is read', () => {
    const enc = new TextEncoder();
    assert.deepEqual(chartTemplateWrites([{ name: 'files/x.yaml', data: enc.encode('{{ $_ := set .Values.a "k" 1 }}') }]), { writes: [], calls: [] });
  });
});
