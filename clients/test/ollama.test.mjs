// The official ollama npm client through the proxy under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { url, key, adminKey, chatModel, embedModel, pullModel, bearer } from './env.mjs';

const ollama = new Ollama({ host: url, headers: bearer(key) });

test('chat streams several parts and ends with done', async () => {
  const parts = [];
  const stream = await ollama.chat({ model: chatModel, messages: [{ role: 'user', content: 'Why is the sky blue?' }], stream: true });
  for await (const part of stream) {
    parts.push(part);
  }
  assert.ok(parts.length > 2, `expected a stream, got ${parts.length} parts`);
  assert.equal(parts.at(-1).done, true);
  const text = parts.map((p) => p.message.content).join('');
  assert.ok(text.length > 0);
  assert.equal(parts[0].model, chatModel, 'the model as the client wrote it');
});

test('generate answers once, with token counts', async () => {
  const answer = await ollama.generate({ model: chatModel, prompt: 'Say hi', stream: false });
  assert.equal(answer.done, true);
  assert.ok(answer.response.length > 0);
  assert.ok(answer.eval_count > 0);
});

test('embed answers one vector per input, twice the same (the second from the cache)', async () => {
  const input = ['first chunk', 'second chunk'];
  const first = await ollama.embed({ model: embedModel, input });
  const second = await ollama.embed({ model: embedModel, input });
  assert.equal(first.embeddings.length, 2);
  assert.ok(first.embeddings[0].length > 10);
  assert.deepEqual(second.embeddings, first.embeddings);
  const partial = await ollama.embed({ model: embedModel, input: ['second chunk', 'third chunk', 'first chunk'] });
  assert.deepEqual(partial.embeddings[0], first.embeddings[1]);
  assert.deepEqual(partial.embeddings[2], first.embeddings[0]);
  assert.equal(partial.embeddings[1].length, first.embeddings[0].length);
});

test('list and ps show the models', async () => {
  const list = await ollama.list();
  const names = list.models.map((m) => m.name);
  assert.ok(names.some((n) => n.startsWith(chatModel)), `list: ${names}`);
  assert.ok(names.some((n) => n.startsWith(embedModel)), `list: ${names}`);
  const ps = await ollama.ps();
  assert.ok(Array.isArray(ps.models));
});

test('show describes a model', async () => {
  const shown = await ollama.show({ model: chatModel });
  assert.ok(shown.details, 'details');
  assert.ok(shown.modelfile !== undefined || shown.model_info !== undefined);
});

test('pull with a management key streams progress to success', async () => {
  const admin = new Ollama({ host: url, headers: bearer(adminKey) });
  const statuses = [];
  for await (const progress of await admin.pull({ model: pullModel, stream: true })) {
    statuses.push(progress.status);
  }
  assert.equal(statuses.at(-1), 'success', statuses.join(' | '));
});
