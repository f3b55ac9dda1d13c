#!/usr/bin/env node
// Reserved-slot benchmark helper (bench/reserve.sh); Node 18+, no dependencies.
//
//   node reserve.js upstream PORT GEN_MS
//     A fake Ollama: POST /api/generate answers a fixed non-streamed generation after GEN_MS; GET /api/tags lists
//     the model "bench"; other GETs answer {"version":…}. GET /bench/stats gives {requests, open, maxOpen}.
//
//   node reserve.js client PROXY_URL LOW_LOOPS HIGHS HIGH_INTERVAL_MS WARMUP_MS
//     LOW_LOOPS closed loops of low-priority generations keep the proxy's slots busy and its low tier non-empty;
//     after WARMUP_MS, HIGHS high-priority generations arrive one every HIGH_INTERVAL_MS × U(0.5, 1.5) (each sent
//     without waiting for the ones before). Prints one JSON line: each high request's queue wait (its
//     X-Queue-Wait-Time, ms) as p50/p95/max and every value, and the lows completed meanwhile.
'use strict';

const http = require('http');

const body = JSON.stringify({
  model: 'bench', created_at: '2026-01-01T00:00:00Z', response: 'ok', done: true, done_reason: 'stop',
  prompt_eval_count: 1, eval_count: 1,
});

function upstream(port, genMs) {
  const stats = { requests: 0, open: 0, maxOpen: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      let out = { version: '0.13.5' };
      if (req.url === '/api/tags') out = { models: [{ name: 'bench:latest', model: 'bench:latest' }] };
      else if (req.url === '/api/ps') out = { models: [] };
      else if (req.url === '/bench/stats') out = stats;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out));
      return;
    }
    req.resume();
    req.on('end', () => {
      stats.requests++;
      stats.open++;
      stats.maxOpen = Math.max(stats.maxOpen, stats.open);
      setTimeout(() => {
        stats.open--;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(body);
      }, genMs);
    });
  });
  server.keepAliveTimeout = 75_000;
  server.listen(port, '127.0.0.1');
}

function generate(agent, base, tier) {
  return new Promise((resolve) => {
    const url = new URL('/api/generate', base);
    const payload = JSON.stringify({ model: 'bench', prompt: tier, stream: false });
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload),
        'X-Queue-Priority': tier },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, wait: Number(res.headers['x-queue-wait-time']) }));
    });
    req.on('error', (e) => resolve({ status: 0, error: String(e.code || e.message) }));
    req.end(payload);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function client(base, lowLoops, highs, intervalMs, warmupMs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let running = true;
  let lowsDone = 0;
  let errors = 0;
  const loops = [];
  for (let i = 0; i < lowLoops; i++) {
    loops.push((async () => {
      while (running) {
        const r = await generate(agent, base, 'low');
        if (r.status === 200) lowsDone++; else errors++;
      }
    })());
  }
  await new Promise((r) => setTimeout(r, warmupMs));
  const lowsBefore = lowsDone;
  const pending = [];
  for (let i = 0; i < highs; i++) {
    pending.push(generate(agent, base, 'high'));
    await new Promise((r) => setTimeout(r, intervalMs * (0.5 + Math.random())));
  }
  const results = await Promise.all(pending);
  const lowsDuring = lowsDone - lowsBefore;
  running = false;
  await Promise.all(loops);
  agent.destroy();
  const waits = results.filter((r) => r.status === 200).map((r) => r.wait).sort((a, b) => a - b);
  errors += results.filter((r) => r.status !== 200).length;
  console.log(JSON.stringify({
    highs: results.length, p50: percentile(waits, 50), p95: percentile(waits, 95), max: waits[waits.length - 1],
    lowsDuring, errors, waits,
  }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'upstream') {
  upstream(Number(args[0]), Number(args[1]));
} else if (mode === 'client') {
  client(args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
} else {
  console.error('usage: reserve.js upstream PORT GEN_MS | client PROXY_URL LOW_LOOPS HIGHS HIGH_INTERVAL_MS WARMUP_MS');
  process.exit(2);
}
