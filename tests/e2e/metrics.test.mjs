// End to end: `/metrics` of the real `manifold serve` after real traffic from the official
// `openai` npm client. The scrape must pass `promtool check metrics` (Debian's `prometheus`
// package; only the findings vLLM's own names cause), and its values must agree with what the
// client was served: request counts by finish reason, prompt and generation token counters equal
// to the sums of `usage`, one histogram observation per request, the KV cache and the running
// and waiting gauges back at 0 once idle, also after a stream the client cut (the gauges'
// return after an abort without a later step is tested in engine_core_test). Skips when
// tests/e2e/node_modules is missing; the promtool check skips when promtool is not installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { skipReason, startManifold, storiesDir } from './manifold_server.mjs';

const skip = skipReason();
if (skip) console.log(skip);

let server;
let baseURL;
let client;
let workdir;

before(async () => {
  if (skip) return;
  const { default: OpenAI } = await import('openai');
  workdir = mkdtempSync(path.join(tmpdir(), 'manifold-e2e-metrics-'));
  const config = {
    engines: [
      { served_model_name: ['stories'], model: storiesDir, threads: 1, max_num_seqs: 4 },
      { served_model_name: ['stories-small'], model: storiesDir, threads: 1, max_model_len: 128 },
    ],
  };
  const configPath = path.join(workdir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const started = await startManifold(['--config', configPath]);
  server = started.process;
  baseURL = started.url;
  client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

// The text exposition as [{ name, labels, value }] (comments and blank lines skipped).
function parseExposition(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    assert.ok(match, `unparsable exposition line: ${line}`);
    const labels = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

// The sum of the samples named `name` whose labels include `labels`.
function value(samples, name, labels = {}) {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(matching.length > 0, `no sample ${name} ${JSON.stringify(labels)}`);
  return matching.reduce((sum, s) => sum + s.value, 0);
}

async function scrape() {
  const res = await fetch(`${baseURL}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

// Scrapes until the model's engine is idle (nothing running or waiting, no KV block in use), or
// gives up after 5 s and returns the last scrape.
async function idleScrape(model) {
  let samples;
  for (let i = 0; i < 100; ++i) {
    samples = parseExposition(await scrape());
    const m = { model_name: model };
    if (
      value(samples, 'vllm:num_requests_running', m) === 0 &&
      value(samples, 'vllm:num_requests_waiting', m) === 0 &&
      value(samples, 'vllm:kv_cache_usage_perc', m) === 0
    ) {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return samples;
}

test('metrics after real traffic pass promtool and equal what was served', { skip }, async () => {
  // What the client was served, from the responses themselves.
  const served = { requests: 0, prompt: 0, completion: 0, length: 0, stop: 0 };
  const count = (usage, finishReasons) => {
    served.requests += 1;
    served.prompt += usage.prompt_tokens;
    served.completion += usage.completion_tokens;
    // One finish reason per request: its samples end the same way in these requests.
    assert.equal(new Set(finishReasons).size, 1, `mixed finish reasons ${finishReasons}`);
    served[finishReasons[0]] += 1;
  };
  // The third repeats the first: its full 16-token blocks hit the prefix cache.
  const long = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog.';
  const prompts = [long, 'The little dog', long];
  for (const prompt of prompts) {
    const r = await client.completions.create({ model: 'stories', prompt, max_tokens: 12, temperature: 0 });
    count(r.usage, r.choices.map((c) => c.finish_reason));
  }
  const sampled = await client.completions.create({
    model: 'stories', prompt: 'Lily had a red ball', max_tokens: 10, n: 2, temperature: 1, seed: 7, ignore_eos: true,
  });
  count(sampled.usage, sampled.choices.map((c) => c.finish_reason));
  const chat = await client.chat.completions.create({
    model: 'stories', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 16, temperature: 0,
  });
  count(chat.usage, chat.choices.map((c) => c.finish_reason));
  // A stop string that the greedy text contains: finish_reason "stop".
  const unstopped = await client.completions.create({ model: 'stories', prompt: 'Tim and Sam', max_tokens: 24, temperature: 0 });
  count(unstopped.usage, unstopped.choices.map((c) => c.finish_reason));
  const word = unstopped.choices[0].text.trim().split(/\s+/)[2];
  const stopped = await client.completions.create({
    model: 'stories', prompt: 'Tim and Sam', max_tokens: 24, temperature: 0, stop: [word],
  });
  count(stopped.usage, stopped.choices.map((c) => c.finish_reason));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  let streamedUsage;
  const reasons = [];
  for await (const chunk of await client.completions.create({
    model: 'stories', prompt: 'One day', max_tokens: 20, temperature: 0, ignore_eos: true,
    stream: true, stream_options: { include_usage: true },
  })) {
    if (chunk.usage) streamedUsage = chunk.usage;
    for (const c of chunk.choices) if (c.finish_reason) reasons.push(c.finish_reason);
  }
  count(streamedUsage, reasons);

  // On the other engine, a stream the client cuts after three chunks.
  const controller = new AbortController();
  const cut = await client.completions.create(
    { model: 'stories-small', prompt: 'Once upon a time', max_tokens: 100, ignore_eos: true, stream: true },
    { signal: controller.signal },
  );
  let chunks = 0;
  try {
    for await (const chunk of cut) {
      if (chunk.choices.length && ++chunks === 3) controller.abort();
    }
  } catch (err) {
    assert.ok(controller.signal.aborted, `unexpected error ${err}`);
  }

  const samples = await idleScrape('stories');
  const small = await idleScrape('stories-small');
  const m = { model_name: 'stories' };
  assert.equal(value(samples, 'vllm:request_success_total', { ...m, finished_reason: 'length' }), served.length);
  assert.equal(value(samples, 'vllm:request_success_total', { ...m, finished_reason: 'stop' }), served.stop);
  assert.equal(value(samples, 'vllm:request_success_total', { ...m, finished_reason: 'abort' }), 0);
  assert.equal(value(samples, 'vllm:prompt_tokens_total', m), served.prompt);
  assert.equal(value(samples, 'vllm:generation_tokens_total', m), served.completion);
  assert.ok(value(samples, 'vllm:prefix_cache_hits_total', m) > 0, 'the repeated prompt hit the cache');
  for (const histogram of [
    'vllm:e2e_request_latency_seconds', 'vllm:time_to_first_token_seconds', 'vllm:request_queue_time_seconds',
    'vllm:request_prompt_tokens', 'vllm:request_generation_tokens', 'vllm:request_prefill_time_seconds',
  ]) {
    assert.equal(value(samples, `${histogram}_count`, m), served.requests, histogram);
    assert.equal(value(samples, `${histogram}_bucket`, { ...m, le: '+Inf' }), served.requests, histogram);
  }
  assert.equal(value(samples, 'vllm:request_prompt_tokens_sum', m), served.prompt);
  assert.equal(value(samples, 'vllm:request_generation_tokens_sum', m), served.completion);
  assert.equal(value(samples, 'vllm:num_requests_running', m), 0);
  assert.equal(value(samples, 'vllm:num_requests_waiting', m), 0);
  assert.equal(value(samples, 'vllm:kv_cache_usage_perc', m), 0);

  // The cut stream: one request, aborted unless the tiny model finished it first (it decodes
  // thousands of tokens a second), and nothing left running on its engine.
  const s = { model_name: 'stories-small' };
  assert.equal(value(small, 'vllm:request_success_total', s), 1);
  assert.equal(value(small, 'vllm:request_success_total', { ...s, finished_reason: 'stop' }), 0);
  assert.ok(value(small, 'vllm:generation_tokens_total', s) >= 3);
  assert.equal(value(small, 'vllm:num_requests_running', s), 0);
  assert.equal(value(small, 'vllm:kv_cache_usage_perc', s), 0);

  // Gateway metrics: every request above answered 200 on its route, and none is in flight but
  // the scrape itself.
  const completions = served.requests - 1;  // all but the chat request
  assert.equal(
    value(small, 'manifold_http_requests_total', { route: '/v1/completions', status: '200' }),
    completions + 1,  // and the cut stream
  );
  assert.equal(value(small, 'manifold_http_requests_total', { route: '/v1/chat/completions', status: '200' }), 1);
  assert.equal(value(small, 'manifold_routing_decisions_total', { model_name: 'stories' }), served.requests);
  assert.equal(value(small, 'manifold_http_requests_in_flight'), 1);

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(), encoding: 'utf8' });
  if (promtool.error) {
    console.log('promtool is not installed: skipping its check');
    return;
  }
  let colonFindings = 0;
  for (const line of `${promtool.stdout}${promtool.stderr}`.split('\n')) {
    if (line === '') continue;
    if (line.includes("metric names should not contain ':'")) {
      assert.ok(line.startsWith('vllm:'), line);
      colonFindings += 1;
      continue;
    }
    // vLLM's name for a histogram; kept so its dashboards read it.
    if (line === 'vllm:iteration_tokens_total non-counter metrics should not have "_total" suffix') continue;
    assert.fail(`promtool finding: ${line}`);
  }
  assert.ok(colonFindings > 10, 'promtool read the vllm families');
});
