// The official openai npm client against the proxy's OpenAI-compatible routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { url, key, chatModel, embedModel } from './env.mjs';

// The SDK insists on a key; through the sidecar the port injects the real one and this one is replaced.
const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: key || 'replaced-by-the-sidecar', maxRetries: 0 });

test('chat completions stream over SSE', async () => {
  const stream = await openai.chat.completions.create({
    model: chatModel,
    messages: [{ role: 'user', content: 'Why is the sky blue?' }],
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  assert.ok(chunks.length > 2, `expected a stream, got ${chunks.length} chunks`);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.ok(text.length > 0);
  assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
});

test('embeddings: floats, in order, the same twice', async () => {
  const first = await openai.embeddings.create({ model: embedModel, input: ['alpha', 'beta'] });
  assert.equal(first.data.length, 2);
  assert.deepEqual(first.data.map((d) => d.index), [0, 1]);
  assert.ok(first.data[0].embedding.length > 10);
  assert.equal(typeof first.data[0].embedding[0], 'number');
  const again = await openai.embeddings.create({ model: embedModel, input: ['beta', 'alpha'] });
  assert.deepEqual(again.data[0].embedding, first.data[1].embedding);
  assert.deepEqual(again.data[1].embedding, first.data[0].embedding);
});

test('models lists the installed models', async () => {
  const ids = [];
  for await (const model of openai.models.list()) {
    ids.push(model.id);
  }
  assert.ok(ids.some((id) => id.startsWith(chatModel)), `models: ${ids}`);
});
