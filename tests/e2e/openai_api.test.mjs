// End to end: the real `manifold serve` (two engines on the bundled stories260K, API keys) driven
// by the official `openai` npm client. Run by CTest (label e2e) as `node --test`; skips when
// tests/e2e/node_modules is missing (deploy/install-deps.sh installs it).
//
// Expected values are derived independently of the gateway: greedy decoding is deterministic, so
// a streamed answer must equal the non-streamed one, a stop string must cut the unstopped text at
// its first occurrence, and an alias must answer exactly like the name it stands for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { skipReason, startManifold, storiesDir } from './manifold_server.mjs';

const skip = skipReason();
if (skip) console.log(skip);

const KEY = 'sk-e2e-test';
let server;
let serverExit;
let baseURL;
let client;
let OpenAI;
let workdir;

async function startServer() {
  workdir = mkdtempSync(path.join(tmpdir(), 'manifold-e2e-'));
  const config = {
    api_keys: [KEY],
    engines: [
      { served_model_name: ['stories'], aliases: ['stories260k'], model: storiesDir, threads: 1, max_num_seqs: 8 },
      {
        served_model_name: ['stories-small'],
        model: storiesDir,
        threads: 1,
        max_model_len: 128,
        max_num_seqs: 4,
        enable_prefix_caching: false,
      },
    ],
  };
  const configPath = path.join(workdir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const started = await startManifold(['--config', configPath]);
  server = started.process;
  serverExit = started.exited;
  baseURL = started.url;
}

async function engineStats(model) {
  const res = await fetch(`${baseURL}/debug/engines`, { headers: { Authorization: `Bearer ${KEY}` } });
  const body = await res.json();
  return body.models.find((m) => m.id === model).replicas[0];
}

// The text of a streamed completion's first choice.
async function streamedCompletionText(request) {
  let text = '';
  for await (const chunk of await client.completions.create({ ...request, stream: true })) {
    text += chunk.choices[0]?.text ?? '';
  }
  return text;
}

before(async () => {
  if (skip) return;
  ({ default: OpenAI } = await import('openai'));
  await startServer();
  client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: KEY, maxRetries: 0 });
});

after(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const greedy = { temperature: 0, max_tokens: 24 };
const messages = [{ role: 'user', content: 'Tell me a story about a cat.' }];

test('lists both models and the alias with their context lengths', { skip }, async () => {
  const models = [];
  for await (const model of client.models.list()) models.push(model);
  const byId = Object.fromEntries(models.map((m) => [m.id, m]));
  assert.deepEqual(Object.keys(byId).sort(), ['stories', 'stories-small', 'stories260k']);
  assert.equal(byId.stories.object, 'model');
  assert.equal(byId.stories.max_model_len, 512);
  assert.equal(byId['stories-small'].max_model_len, 128);
});

test('chat completion, plain and streamed with usage, agree under greedy decoding', { skip }, async () => {
  const plain = await client.chat.completions.create({ model: 'stories', messages, ...greedy });
  assert.match(plain.id, /^chatcmpl-/);
  assert.equal(plain.object, 'chat.completion');
  assert.equal(plain.choices[0].message.role, 'assistant');
  const text = plain.choices[0].message.content;
  assert.ok(text.length > 0);
  assert.ok(['length', 'stop'].includes(plain.choices[0].finish_reason));
  assert.equal(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens);
  assert.ok(plain.usage.completion_tokens <= 24);

  const stream = await client.chat.completions.create({
    model: 'stories', messages, ...greedy, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let role;
  let finish;
  let usage;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) streamed += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(streamed, text);
  assert.equal(finish, plain.choices[0].finish_reason);
  assert.deepEqual(usage, plain.usage);
});

test('completions, plain and streamed, agree and count tokens', { skip }, async () => {
  const prompt = 'Once upon a time';
  const plain = await client.completions.create({ model: 'stories', prompt, ...greedy });
  assert.match(plain.id, /^cmpl-/);
  assert.equal(plain.object, 'text_completion');
  const text = plain.choices[0].text;
  assert.ok(text.length > 0);
  const stream = await client.completions.create({
    model: 'stories', prompt, ...greedy, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) streamed += choice.text;
  }
  assert.equal(streamed, text);
  assert.deepEqual(usage, plain.usage);
});

test('n=2 returns two indexed choices', { skip }, async () => {
  const res = await client.chat.completions.create({
    model: 'stories', messages, max_tokens: 12, temperature: 1, seed: 7, n: 2,
  });
  assert.equal(res.choices.length, 2);
  assert.deepEqual(res.choices.map((c) => c.index).sort(), [0, 1]);
  for (const c of res.choices) assert.ok(c.message.content.length > 0);
});

test('logprobs come with every sampled token', { skip }, async () => {
  const chat = await client.chat.completions.create({
    model: 'stories', messages, ...greedy, logprobs: true, top_logprobs: 2,
  });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, chat.usage.completion_tokens);
  for (const entry of content) {
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.top_logprobs.length, 2);
    // Greedy: the chosen token is the most likely one.
    assert.ok(entry.logprob >= entry.top_logprobs[1].logprob - 1e-5);
  }
  const completion = await client.completions.create({
    model: 'stories', prompt: 'Once upon a time', ...greedy, logprobs: 2,
  });
  const lp = completion.choices[0].logprobs;
  assert.equal(lp.tokens.length, completion.usage.completion_tokens);
  assert.equal(lp.tokens.join(''), completion.choices[0].text);
});

test('a stop string cuts the text at its first occurrence', { skip }, async () => {
  const prompt = 'Once upon a time';
  const full = (await client.completions.create({ model: 'stories', prompt, ...greedy })).choices[0].text;
  const stop = full.slice(6, 9);
  assert.equal(stop.length, 3);
  const stopped = await client.completions.create({ model: 'stories', prompt, ...greedy, stop: [stop] });
  assert.equal(stopped.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
});

// vLLM's vocabulary extras, passed through the openai client as extra body fields. The greedy
// story names Lily; with "Lily" a bad word it names someone else, and allowed_token_ids leaves
// the model nothing else to say.
test("vLLM's bad_words, allowed_token_ids and prompt_logprobs act on the real model", { skip }, async () => {
  const prompt = 'Once upon a time';
  const plain = (await client.completions.create({ model: 'stories', prompt, ...greedy, max_tokens: 30 }))
    .choices[0].text;
  assert.match(plain, /Lily/);
  const banned = await client.completions.create({
    model: 'stories', prompt, ...greedy, max_tokens: 30, bad_words: ['Lily'],
  });
  assert.doesNotMatch(banned.choices[0].text, /Lily/);
  assert.equal(banned.usage.completion_tokens, 30);

  const tokenized = await (await fetch(`${baseURL}/tokenize`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'stories', prompt: 'Once', add_special_tokens: false }),
  })).json();
  assert.equal(tokenized.tokens.length, 1);
  const only = await client.completions.create({
    model: 'stories', prompt, ...greedy, max_tokens: 3, allowed_token_ids: tokenized.tokens,
  });
  assert.equal(only.choices[0].text, ' Once Once Once');

  const scored = await client.completions.create({
    model: 'stories', prompt, max_tokens: 1, prompt_logprobs: 1,
  });
  const listed = scored.choices[0].prompt_logprobs;
  assert.equal(listed.length, scored.usage.prompt_tokens);
  assert.equal(listed[0], null);
  for (const position of listed.slice(1)) {
    for (const entry of Object.values(position)) {
      assert.ok(entry.logprob <= 0 && entry.rank >= 1 && typeof entry.decoded_token === 'string');
    }
  }
});

test('the same seed gives the same sampled text', { skip }, async () => {
  const ask = () => client.completions.create({
    model: 'stories', prompt: 'The dog', max_tokens: 20, temperature: 1, seed: 1234,
  });
  const [a, b] = [await ask(), await ask()];
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test('response_format json_object gives a JSON object, streamed or not', { skip }, async () => {
  // stories260K writes stories, not JSON: the grammar keeps every token inside an object, and a
  // bias on its '}' byte token (id 128) and '"' (436) lets the object close within max_tokens.
  const request = {
    model: 'stories', messages, temperature: 0, max_tokens: 200,
    response_format: { type: 'json_object' }, logit_bias: { 128: 12, 436: 4 },
  };
  const plain = await client.chat.completions.create(request);
  const content = plain.choices[0].message.content;
  assert.equal(plain.choices[0].finish_reason, 'stop');
  const value = JSON.parse(content);
  assert.equal(typeof value, 'object');
  assert.ok(value !== null && !Array.isArray(value));
  let streamed = '';
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
    streamed += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(streamed, content);
  // Without the bias the story runs to max_tokens: still a prefix of an object.
  const cut = await client.completions.create({
    model: 'stories', prompt: 'Once upon a time', temperature: 0, max_tokens: 30,
    response_format: { type: 'json_object' },
  });
  assert.equal(cut.choices[0].finish_reason, 'length');
  assert.match(cut.choices[0].text, /^\s?\{/);
});

// stories260K's whitespace tokens (tab, newline, CR, space bytes and '▁'): the grammar allows 32
// whitespace bytes between tokens, and this model would use them all.
const noWhitespace = { 12: -100, 13: -100, 16: -100, 35: -100, 410: -100 };
const closeSoon = { 128: 12, 436: 4 };  // '}' and '"'

test('response_format json_schema keeps to the schema', { skip }, async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, ok: { type: 'boolean' }, kind: { enum: ['cat', 'dog'] } },
    required: ['name', 'kind'],
    additionalProperties: false,
  };
  const answer = await client.chat.completions.create({
    model: 'stories', messages, temperature: 0, max_tokens: 120, logit_bias: { ...closeSoon, ...noWhitespace },
    response_format: { type: 'json_schema', json_schema: { name: 'pet', schema, strict: true } },
  });
  assert.equal(answer.choices[0].finish_reason, 'stop', answer.choices[0].message.content);
  const value = JSON.parse(answer.choices[0].message.content);
  assert.deepEqual(Object.keys(value).filter((k) => !['name', 'ok', 'kind'].includes(k)), []);
  assert.equal(typeof value.name, 'string');
  assert.ok([...value.name].length <= 12);
  assert.ok(['cat', 'dog'].includes(value.kind));
  if ('ok' in value) assert.equal(typeof value.ok, 'boolean');
  await assert.rejects(
    client.chat.completions.create({
      model: 'stories', messages, max_tokens: 4,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^(a)\\1' } } },
    }),
    (err) => err.status === 400 && /backreference is not supported/.test(err.message),
  );
});

test('json_schema pattern, format and numeric bounds: the values keep them, as JavaScript reads them', { skip }, async () => {
  const schema = {
    type: 'object',
    properties: {
      code: { type: 'string', pattern: '^[A-Z]{2}-\\d{2,3}$' },
      day: { type: 'string', format: 'date' },
      stars: { type: 'integer', minimum: 1, maximum: 5 },
      price: { type: 'number', exclusiveMinimum: 0, maximum: 99.5 },
    },
    required: ['code', 'day', 'stars', 'price'],
    additionalProperties: false,
  };
  for (const temperature of [0, 1]) {
    const answer = await client.chat.completions.create({
      model: 'stories', messages, temperature, seed: 11, max_tokens: 120, logit_bias: noWhitespace,
      response_format: { type: 'json_schema', json_schema: { name: 'ticket', schema, strict: true } },
    });
    assert.equal(answer.choices[0].finish_reason, 'stop', answer.choices[0].message.content);
    const value = JSON.parse(answer.choices[0].message.content);
    assert.match(value.code, new RegExp(schema.properties.code.pattern, 'u'));
    assert.match(value.day, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(new Date(`${value.day}T00:00:00Z`).toISOString().slice(0, 10), value.day);
    assert.ok(Number.isInteger(value.stars) && value.stars >= 1 && value.stars <= 5, `${value.stars}`);
    assert.ok(value.price > 0 && value.price <= 99.5, `${value.price}`);
  }
});

test('tool_choice naming a function answers with its arguments under its schema', { skip }, async () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 10 }, metric: { type: 'boolean' } },
        required: ['city'],
      },
    },
  }];
  const request = {
    model: 'stories', messages, temperature: 0, max_tokens: 100, tools,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    logit_bias: { ...closeSoon, ...noWhitespace },
  };
  const answer = await client.chat.completions.create(request);
  const message = answer.choices[0].message;
  assert.equal(answer.choices[0].finish_reason, 'stop', JSON.stringify(message));
  assert.equal(message.tool_calls.length, 1);
  assert.equal(message.tool_calls[0].function.name, 'get_weather');
  const args = JSON.parse(message.tool_calls[0].function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok([...args.city].length <= 10);
  assert.deepEqual(Object.keys(args).filter((k) => !['city', 'metric'].includes(k)), []);
  if ('metric' in args) assert.equal(typeof args.metric, 'boolean');
  // Streamed: the id and name once, then the same arguments piece by piece.
  let streamed = '';
  let names = 0;
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      if (call.function?.name) names += 1;
      streamed += call.function?.arguments ?? '';
    }
  }
  assert.equal(names, 1);
  assert.equal(streamed, message.tool_calls[0].function.arguments);
});

test('tool_choice required answers with calls of the given functions', { skip }, async () => {
  const tools = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 } }, required: ['city'] } } },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'] } } },
  ];
  const answer = await client.chat.completions.create({
    model: 'stories', messages, temperature: 0, max_tokens: 150, tools, tool_choice: 'required',
    // ']' (96, 509) up and ',' (47, 432) down: one call, then the array closes.
    logit_bias: { ...closeSoon, ...noWhitespace, 96: 12, 509: 12, 47: -100, 432: -100 },
  });
  const choice = answer.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice.message));
  assert.ok(choice.message.tool_calls.length >= 1);
  for (const call of choice.message.tool_calls) {
    const args = JSON.parse(call.function.arguments);
    if (call.function.name === 'get_weather') {
      assert.deepEqual(Object.keys(args), ['city']);
      assert.ok([...args.city].length <= 10);
    } else {
      assert.equal(call.function.name, 'get_time');
      assert.ok(['UTC', 'CET'].includes(args.zone));
    }
  }
});

test("vLLM's guided_choice answers with one of the texts", { skip }, async () => {
  const choices = ['yes', 'no', 'Once upon a time'];
  for (const temperature of [0, 1.5]) {
    const answer = await client.completions.create({
      model: 'stories', prompt: 'Is the cat happy?', max_tokens: 20, temperature, seed: 7,
      guided_choice: choices,
    });
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assert.ok(choices.includes(answer.choices[0].text), answer.choices[0].text);
  }
});

test("vLLM's guided_regex: the whole answer matches, streamed or not", { skip }, async () => {
  const pattern = '(The|A) (cat|dog|bird) (sat|ran|sang)( quickly)?\\.';
  const whole = new RegExp(`^(?:${pattern})$`, 'u');
  for (const temperature of [0, 1.5]) {
    const request = {
      model: 'stories', prompt: 'Once upon a time', max_tokens: 24, temperature, seed: 5,
      guided_regex: pattern,
    };
    const answer = await client.completions.create(request);
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assert.match(answer.choices[0].text, whole);
    assert.equal(await streamedCompletionText(request), answer.choices[0].text);
  }
  await assert.rejects(
    client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 4, guided_regex: '(?=a)a' }),
    (err) => err.status === 400 && /lookaround/.test(err.message),
  );
});

test("GBNF grammars: vLLM's guided_grammar and llama.cpp's grammar", { skip }, async () => {
  const grammar = [
    'root ::= answer "."',
    'answer ::= ("yes" | "no") (", " reason)?  # a reason is optional',
    'reason ::= "because " word (" " word){0,2}',
    'word ::= [a-z]{1,10}',
  ].join('\n');
  const whole = /^(yes|no)(, because [a-z]{1,10}( [a-z]{1,10}){0,2})?\.$/u;
  for (const temperature of [0, 1.5]) {
    const chat = await client.chat.completions.create({
      model: 'stories', messages, max_tokens: 40, temperature, seed: 3, guided_grammar: grammar,
    });
    assert.equal(chat.choices[0].finish_reason, 'stop');
    assert.match(chat.choices[0].message.content, whole);
    const request = {
      model: 'stories', prompt: 'Once upon a time', max_tokens: 40, temperature, seed: 3, grammar,
    };
    const answer = await client.completions.create(request);
    assert.match(answer.choices[0].text, whole);
    assert.equal(await streamedCompletionText(request), answer.choices[0].text);
  }
  // Lark's EBNF, which vLLM's guided_grammar takes too.
  const lark = await client.completions.create({
    model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 1, seed: 9,
    guided_grammar: '?start: answer "."\nanswer: "yes" | "no"\n    | "maybe " /[a-z]/ ~ 1..4',
  });
  assert.match(lark.choices[0].text, /^(yes|no|maybe [a-z]{1,4})\.$/u);
  await assert.rejects(
    client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 4, guided_grammar: 'root ::= root "a" | "b"' }),
    (err) => err.status === 400 && /left-recursive/.test(err.message),
  );
});

test('routes by name and alias', { skip }, async () => {
  const byName = await client.chat.completions.create({ model: 'stories', messages, ...greedy });
  const byAlias = await client.chat.completions.create({ model: 'stories260k', messages, ...greedy });
  assert.equal(byAlias.model, 'stories260k');
  assert.equal(byAlias.choices[0].message.content, byName.choices[0].message.content);
  const small = await client.chat.completions.create({ model: 'stories-small', messages, ...greedy });
  assert.equal(small.model, 'stories-small');
  // Same weights, same greedy answer, whatever the engine settings.
  assert.equal(small.choices[0].message.content, byName.choices[0].message.content);
});

test('unknown model is a 404', { skip }, async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 4 }),
    (err) => err.status === 404 && /does not exist/.test(err.message),
  );
});

test('a bad API key is a 401', { skip }, async () => {
  const bad = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err) => err.status === 401);
});

test('a prompt longer than the context is a 400 with the context length', { skip }, async () => {
  const long = 'Once upon a time there was a little dog. '.repeat(40);
  await assert.rejects(
    client.completions.create({ model: 'stories-small', prompt: long, max_tokens: 8 }),
    (err) => err.status === 400 && /maximum context length is 128 tokens/.test(err.message),
  );
});

test('a stream cut by the client frees its KV cache blocks', { skip }, async () => {
  const controller = new AbortController();
  const stream = await client.completions.create(
    { model: 'stories', prompt: 'Once upon a time', max_tokens: 400, temperature: 1, ignore_eos: true, stream: true },
    { signal: controller.signal },
  );
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      if (chunk.choices.length) chunks += 1;
      if (chunks === 3) controller.abort();
    }
  } catch (err) {
    assert.ok(controller.signal.aborted, `unexpected error ${err}`);
  }
  let stats;
  for (let i = 0; i < 100; ++i) {
    stats = await engineStats('stories');
    if (stats.num_running === 0 && stats.kv_cache_usage === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(stats.num_running, 0);
  assert.equal(stats.kv_cache_usage, 0);
});

test('SIGTERM drains and exits 0', { skip }, async () => {
  server.kill('SIGTERM');
  const { code } = await serverExit;
  assert.equal(code, 0);
});
