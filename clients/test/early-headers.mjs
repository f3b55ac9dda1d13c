// Run by the Java test EarlyHeadersEndToEndTest: a request that waits in the queue of the proxy under test, read
// by an official npm client. Prints one JSON line with what the client saw; the Java test judges it.
//   node test/early-headers.mjs openai-stream   the openai client streams a chat completion (through a relay)
//   node test/early-headers.mjs ollama-chat     the ollama client streams a chat that is expected to fail
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { url, key, chatModel, bearer } from './env.mjs';

const mode = process.argv[2];
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

if (mode === 'openai-stream') {
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: key || 'unused', maxRetries: 0, timeout: 120_000 });
  try {
    const stream = await openai.chat.completions.create({ model: chatModel, messages, stream: true, max_tokens: 5 });
    let text = '';
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    console.log(JSON.stringify({ ok: true, chunks, text, finish }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, name: e.name, status: e.status ?? null, error: e.message }));
  }
} else if (mode === 'ollama-chat') {
  const ollama = new Ollama({ host: url, headers: bearer(key) });
  try {
    const stream = await ollama.chat({ model: chatModel, messages, stream: true });
    let parts = 0;
    for await (const part of stream) {
      parts += part ? 1 : 0;
    }
    console.log(JSON.stringify({ ok: true, parts }));
  } catch (e) {
    // ResponseError (with status_code) for an HTTP error status; a plain Error for an error line in a 200 stream.
    console.log(JSON.stringify({ ok: false, name: e.name, status: e.status_code ?? null, error: e.message }));
  }
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
