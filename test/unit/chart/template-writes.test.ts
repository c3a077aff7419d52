/**
 * The analysis of what a chart's templates write into its values (src/chart/template-writes.ts), on real
 * template bytes: cilium 1.15.6's (test/fixtures/template-writes/cilium-1.15.6, Apache-2.0), the capture
 * chart's (test/fixtures/template-writes/src/writes) and hand-written cases of Go template syntax.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chartTemplateWrites, templateWrites } from '../../../src/chart/template-writes.ts';
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
  it('a set on a fresh dict is not a write; a set on `.` inside a define is unknown', () => {
    assert.deepEqual(cilium('templates/cilium-secrets-namespace.yaml'), []);
    assert.deepEqual(cilium('templates/hubble/tls-helm/_helpers.tpl'), [{ file: 'templates/hubble/tls-helm/_helpers.tpl', fn: 'set', target: '.', key: 'ca' }]);
    // `set (set . "commonCA" $ca) "commonCASecretName" …`: both calls write to `.`, each one literal key.
    assert.deepEqual(cilium('templates/_helpers.tpl'), [
      { file: 'templates/_helpers.tpl', fn: 'set', target: '.', key: 'commonCASecretName' },
      { file: 'templates/_helpers.tpl', fn: 'set', target: '.', key: 'commonCA' },
    ]);
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
  it('unknown: `.` in with/range/define, $ in a define, .context.Values, a function result, mixed or range variables', () => {
    assert.deepEqual(w('{{ with .Values.a }}{{ $_ := set . "k" 1 }}{{ end }}'), ['set ? .']);
    assert.deepEqual(w('{{ range .Values.l }}{{ $_ := unset . "k" }}{{ end }}'), ['unset ? .']);
    assert.deepEqual(w('{{ define "x" }}{{ $_ := set $ "k" 1 }}{{ $_ := set .context.Values "k" 1 }}{{ end }}'), ['set ? $', 'set ? .context']);
    assert.deepEqual(w('{{ $_ := set (default (dict) .Values.a) "k" 1 }}'), ['set ? the result of default']);
    assert.deepEqual(w('{{ $m := dict }}{{ if .Values.x }}{{ $m = .Values.a }}{{ end }}{{ $_ := set $m "k" 1 }}'), ['set ? a variable of mixed origin']);
    assert.deepEqual(w('{{ range $k, $v := .Values.m }}{{ $_ := set $v "k" 1 }}{{ end }}'), ['set ? a range variable']);
    assert.deepEqual(w('{{ $_ := set .Values "k" 1 }}{{ $_ := merge .Values (dict) }}'), ['set k', 'merge ? .Values itself']);
  });
  it('an unknown target keeps the literal key of set/unset (the only key it can write); none for merge or a computed key', () => {
    const keys = (text: string) => templateWrites('t', text).map((x) => x.key ?? null);
    assert.deepEqual(keys('{{ with .Values.a }}{{ $_ := set . `k` 1 }}{{ $_ := unset . "u" }}{{ $_ := set . .name 1 }}{{ $_ := merge . (dict) }}{{ end }}'), ['k', 'u', null, null]);
  });
  it('a variable assigned only static paths resolves to them, fields of it too', () => {
    assert.deepEqual(w('{{ $sa := .Values.sa }}{{ if .Values.x }}{{ $sa = $.Values.other }}{{ end }}{{ $_ := set $sa.annotations "k" 1 }}'), ['set sa.annotations.k|other.annotations.k']);
  });
});

describe('template writes in the chart tree', () => {
  it('kept per chart in treeJson (parent and subchart), without template text', () => {
    const { tree } = readChartTree(readFileSync(`${FIXTURES}template-writes/writes-1.0.0.tgz`));
    const json = treeJson(tree);
    assert.ok(!json.includes('apiVersion: v1'), 'no template text');
    const back = chartFromJson(json);
    assert.deepEqual(back.templateWrites?.map((x) => [x.fn, x.paths?.map((p) => p.join('.')), x.target, x.key]), [
      ['unset', ['podSecurityContext.appArmorProfile'], undefined, undefined],
      ['set', ['serviceAccounts.operator.annotations.eks.amazonaws.com/role-arn'], undefined, undefined],
      ['set', ['renderedAt'], undefined, undefined],
      ['set', undefined, '.', 'touched'],
      ['mergeOverwrite', undefined, '.', undefined],
    ]);
    assert.deepEqual(back.subcharts[0]?.templateWrites?.map((x) => [x.fn, x.paths?.map((p) => p.join('.'))]), [
      ['set', ['written']],
      ['mergeOverwrite', ['conf']],
    ]);
  });
  it('only templates/ is read', () => {
    const enc = new TextEncoder();
    assert.deepEqual(chartTemplateWrites([{ name: 'files/x.yaml', data: enc.encode('{{ $_ := set .Values.a "k" 1 }}') }]), []);
  });
});
