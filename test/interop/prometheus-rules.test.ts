// The alerting rules shipped in docs/monitoring, checked and unit-tested with Prometheus' own promtool (Debian's): each
// alert fires on the series that should raise it, after its `for`, with its labels and summary, and stays quiet on
// those that should not.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** The rules file (tests run from dist/; docs/ stays at the project root). */
const RULES = fileURLToPath(new URL('../../../docs/monitoring/sluice-alerts.yml', import.meta.url));

/** promtool's unit tests of the rules: instance a is in trouble on every count, instance b on none. */
const UNIT_TESTS = `rule_files:
  - ${RULES}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="sluice",instance="a:9404"}'
        values: '1 1 0 0 0 0'
      - series: 'up{job="sluice",instance="b:9404"}'
        values: '1 1 1 1 1 1'
      - series: 'sluice_storage_failing{job="sluice",instance="a:9404"}'
        values: '0 0 1 1 1 1'
      - series: 'sluice_data_dir_usable_bytes{job="sluice",instance="a:9404"}'
        values: '50x20'
      - series: 'sluice_data_dir_size_bytes{job="sluice",instance="a:9404"}'
        values: '1000x20'
      - series: 'sluice_data_dir_usable_bytes{job="sluice",instance="b:9404"}'
        values: '500x20'
      - series: 'sluice_data_dir_size_bytes{job="sluice",instance="b:9404"}'
        values: '1000x20'
      - series: 'sluice_event_loop_busy_seconds_total{job="sluice",instance="a:9404"}'
        values: '0+57x30'
      - series: 'sluice_event_loop_idle_seconds_total{job="sluice",instance="a:9404"}'
        values: '0+3x30'
      - series: 'sluice_event_loop_busy_seconds_total{job="sluice",instance="b:9404"}'
        values: '0+30x30'
      - series: 'sluice_event_loop_idle_seconds_total{job="sluice",instance="b:9404"}'
        values: '0+30x30'
      - series: 'kafka_network_requestmetrics_errors_total{job="sluice",instance="a:9404",request="Produce",error="NONE"}'
        values: '0+900x30'
      - series: 'kafka_network_requestmetrics_errors_total{job="sluice",instance="a:9404",request="Produce",error="KAFKA_STORAGE_ERROR"}'
        values: '0+100x30'
      - series: 'kafka_network_requestmetrics_errors_total{job="sluice",instance="b:9404",request="Produce",error="NONE"}'
        values: '0+990x30'
      - series: 'kafka_network_requestmetrics_errors_total{job="sluice",instance="b:9404",request="Produce",error="UNKNOWN_TOPIC_OR_PARTITION"}'
        values: '0+10x30'
      - series: 'sluice_authentications_total{job="sluice",instance="a:9404",listener="SASL_SSL",outcome="failed"}'
        values: '0+120x30'
      - series: 'sluice_authentications_total{job="sluice",instance="a:9404",listener="SASL_SSL",outcome="succeeded"}'
        values: '0+6000x30'
      - series: 'kafka_consumergroup_lag_sum{job="sluice",instance="a:9404",consumergroup="billing",topic="orders"}'
        values: '200000x30'
      - series: 'kafka_consumergroup_lag_sum{job="sluice",instance="a:9404",consumergroup="audit",topic="orders"}'
        values: '50x30'
    alert_rule_test:
      - eval_time: 1m
        alertname: SluiceDown
        exp_alerts: []
      - eval_time: 4m
        alertname: SluiceDown
        exp_alerts:
          - exp_labels: { severity: critical, job: sluice, instance: "a:9404" }
            exp_annotations: { summary: "Sluice broker a:9404 is not answering scrapes" }
      - eval_time: 4m
        alertname: SluiceStorageFailing
        exp_alerts:
          - exp_labels: { severity: critical, job: sluice, instance: "a:9404" }
            exp_annotations: { summary: "Sluice broker a:9404 refuses appends with KAFKA_STORAGE_ERROR (full disk or I/O errors)" }
      - eval_time: 3m
        alertname: SluiceDataDirAlmostFull
        exp_alerts: []
      - eval_time: 6m
        alertname: SluiceDataDirAlmostFull
        exp_alerts:
          - exp_labels: { severity: warning, job: sluice, instance: "a:9404" }
            exp_annotations: { summary: "Sluice broker a:9404 has 5% of its data directory's filesystem left" }
      - eval_time: 20m
        alertname: SluiceEventLoopSaturated
        exp_alerts:
          - exp_labels: { severity: warning, job: sluice, instance: "a:9404" }
            exp_annotations: { summary: "Sluice broker a:9404's event loop is busy 95% of the time" }
      - eval_time: 20m
        alertname: SluiceProduceErrors
        exp_alerts:
          - exp_labels: { severity: warning, instance: "a:9404" }
            exp_annotations: { summary: "Sluice broker a:9404 refuses 10% of what is produced to it" }
      - eval_time: 20m
        alertname: SluiceAuthenticationFailures
        exp_alerts:
          - exp_labels: { severity: warning, instance: "a:9404", listener: SASL_SSL }
            exp_annotations: { summary: "Sluice broker a:9404 refuses 2 SASL logins a second on SASL_SSL" }
      - eval_time: 20m
        alertname: SluiceConsumerGroupLagging
        exp_alerts:
          - exp_labels: { severity: warning, job: sluice, instance: "a:9404", consumergroup: billing, topic: orders }
            exp_annotations: { summary: "Consumer group billing is 200000 records behind on orders" }
`;

test('the shipped alerting rules load, and each fires where it should and nowhere else', async () => {
  const checked = await run('promtool', ['check', 'rules', RULES]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stdout, /SUCCESS: 7 rules found/);
  await withTempDir(async (dir) => {
    const tests = join(dir, 'sluice-alerts.test.yml');
    await writeFile(tests, UNIT_TESTS);
    const res = await run('promtool', ['test', 'rules', tests]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /SUCCESS/);
  });
});
