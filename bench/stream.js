#!/usr/bin/env node
// Streaming helpers for bench/queue.sh (Node.js >= 18, no dependencies).
//
//   node stream.js latency  --upstream-port P --target name=url ... --key K
//                           [--streams 50] [--lines 50] [--interval-ms 20] [--rounds 4] [--warmup-rounds 4]
//                           [--out FILE]
//     Runs a fake Ollama in a worker thread of this process that streams NDJSON for POST /api/generate,
//     one line every interval, each line carrying the process.hrtime (µs) at which it was written; then,
//     per target, opens `streams` concurrent streams (`rounds` times, after `warmup-rounds` unrecorded
//     ones) and records for every line the delay from the upstream writing it to the client reading it.
//     Upstream and client share one process and so one clock. Prints one JSON object with the quantiles
//     per target; --out writes every delay and the wall-clock time of each line later than 2 ms.
//
//   node stream.js upstream --port P [--lines 10] [--interval-ms 1000] [--stagger 1]
//     A fake Ollama for the capacity run: each POST /api/generate streams `lines` NDJSON lines, one per
//     interval (the first at once, or with --stagger 1 after a random part of one interval), then a
//     final done line. GET /_bench/stats gives open streams, the
//     highest number open at once and the number finished.
//
//   node stream.js capacity --url BASE --key K --total N [--expect-inflight A --expect-queued B]
//                           [--stats-url URL] [--out FILE]
//     Sends N streaming POST /api/generate at once, polls BASE/queue/summary every 200 ms while they
//     run, waits for every one to end and prints one JSON object: statuses, errors, incomplete streams,
//     the highest queued / in-flight seen and whether both expected values were seen in one sample.
'use strict';

const http = require('http');
const fs = require('fs');
const { Worker, isMainThread, parentPort } = require('worker_threads');

function parseArgs(argv) {
  const args = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const v = argv[i + 1];
      i++;
      if (args[k] === undefined) args[k] = v;
      else if (Array.isArray(args[k])) args[k].push(v);
      else args[k] = [args[k], v];
    } else {
      args._.push(a);
    }
  }
  return args;
}

const nowUs = () => Number(process.hrtime.bigint()) / 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function quantiles(values) {
  if (values.length === 0) return null;
  const v = Float64Array.from(values).sort();
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  const r = (x) => Math.round(x);
  return { n: v.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), p999: r(q(0.999)), max: r(v[v.length - 1]) };
}

function line(obj) {
  return JSON.stringify(obj) + '\n';
}

// ------------------------------------------------------------------ fake Ollama (streaming)

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * @param opts.lines      lines per stream before the final one
 * @param opts.intervalMs time between lines
 * @param opts.firstAtOnce first line at once (capacity) or after a random part of one interval (latency:
 *                         staggers the streams so that they do not all write at the same instant)
 */
function fakeOllama(opts) {
  const stats = { open: 0, maxOpen: 0, finished: 0, aborted: 0, requests: 0 };
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && (req.url === '/api/version' || req.url === '/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"version":"0.13.5"}');
      return;
    }
    if (req.method === 'GET' && req.url === '/_bench/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/api/generate') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    await readBody(req);
    stats.requests++;
    stats.open++;
    if (stats.open > stats.maxOpen) stats.maxOpen = stats.open;
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    let i = 0;
    let timer = null;
    let closed = false;
    const finish = (aborted) => {
      if (closed) return;
      closed = true;
      stats.open--;
      if (aborted) stats.aborted++;
      else stats.finished++;
      if (timer) clearTimeout(timer);
    };
    res.on('close', () => finish(!res.writableFinished));
    const tick = () => {
      timer = null;
      if (closed) return;
      if (i < opts.lines) {
        const t = nowUs();
        res.write(line({ model: 'bench', created_at: '2026-01-01T00:00:00Z', response: 'tok', done: false, i, t }));
        i++;
        timer = setTimeout(tick, opts.intervalMs);
      } else {
        const t = nowUs();
        res.end(line({ model: 'bench', created_at: '2026-01-01T00:00:00Z', response: '', done: true,
          done_reason: 'stop', prompt_eval_count: 1, eval_count: opts.lines, i, t }));
        finish(false);
      }
    };
    timer = setTimeout(tick, opts.firstAtOnce ? 0 : Math.random() * opts.intervalMs);
  });
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 600_000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 0;
  return { server, stats };
}

// ------------------------------------------------------------------ client side

/**
 * One streaming request; resolves with {status, lines, done, delays[], error, headersMs, totalMs, waitHeader}.
 * Never rejects.
 */
function streamRequest(agent, base, key, prompt, onLine) {
  return new Promise((resolve) => {
    const url = new URL('/api/generate', base);
    const body = JSON.stringify({ model: 'bench', prompt, stream: true });
    const started = nowUs();
    const out = { status: 0, lines: 0, done: false, error: null, headersMs: -1, totalMs: -1, waitHeader: null };
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      out.totalMs = (nowUs() - started) / 1000;
      resolve(out);
    };
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
        ...(key ? { Authorization: 'Bearer ' + key } : {}) },
    }, (res) => {
      out.status = res.statusCode;
      out.headersMs = (nowUs() - started) / 1000;
      out.waitHeader = res.headers['x-queue-wait-time'] ?? null;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const arrived = nowUs();
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text.length === 0) continue;
          out.lines++;
          try {
            const obj = JSON.parse(text);
            if (obj.done === true) out.done = true;
            if (obj.error) out.error = out.error || 'error line: ' + obj.error;
            if (onLine && typeof obj.t === 'number') onLine(arrived - obj.t, obj);
          } catch (e) {
            out.error = out.error || 'unparsable line: ' + text.slice(0, 80);
          }
        }
      });
      res.on('end', settle);
      res.on('error', (e) => { out.error = out.error || String(e.code || e.message); settle(); });
      res.on('close', () => {
        if (!res.complete) out.error = out.error || 'response closed before its end';
        settle();
      });
    });
    req.on('error', (e) => { out.error = out.error || String(e.code || e.message); settle(); });
    req.end(body);
  });
}

function getJson(agent, url, key) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: key ? { Authorization: 'Bearer ' + key } : {} }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { b += c; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, body: JSON.parse(b) }); } catch (e) { reject(new Error('bad JSON from ' + url + ': ' + b.slice(0, 200))); }
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// ------------------------------------------------------------------ latency mode

async function latency(args) {
  const streams = +(args.streams || 50);
  const lines = +(args.lines || 50);
  const intervalMs = +(args['interval-ms'] || 20);
  const rounds = +(args.rounds || 4);
  const key = args.key || '';
  const targets = [].concat(args.target || []).map((s) => {
    const i = s.indexOf('=');
    return { name: s.slice(0, i), base: s.slice(i + 1) };
  });
  // The upstream runs in a worker thread: its own event loop (so writing lines and reading them do not
  // wait for each other), the same process and so the same clock.
  const worker = new Worker(__filename, { argv: ['upstream', '--port', String(args['upstream-port']),
    '--lines', String(lines), '--interval-ms', String(intervalMs), '--stagger', '1'] });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  // Lines later than 2 ms, with the wall-clock time they arrived: to line up with a GC log.
  const slow = Object.fromEntries(targets.map((t) => [t.name, []]));
  const runRound = async (target, sink) => {
    const errors = [];
    const onLine = sink ? (d) => {
      sink.push(d);
      if (d > 2000) slow[target.name].push([Date.now(), Math.round(d)]);
    } : null;
    const results = await Promise.all(Array.from({ length: streams }, (_, s) =>
      streamRequest(agent, target.base, key, 's' + s, onLine)));
    for (const r of results) {
      if (r.status !== 200) errors.push('status ' + r.status + (r.error ? ' ' + r.error : ''));
      else if (r.error) errors.push(r.error);
      else if (r.lines !== lines + 1 || !r.done) errors.push('incomplete: ' + r.lines + ' lines');
    }
    return errors;
  };

  const out = { streams, lines_per_stream: lines + 1, interval_ms: intervalMs, rounds,
    warmup_rounds: +(args['warmup-rounds'] ?? 4), targets: {} };
  const raw = {};
  // Warm-up: rounds per target (JIT, connection pools), not recorded.
  const warmupRounds = +(args['warmup-rounds'] ?? 4);
  for (let r = 0; r < warmupRounds; r++) {
    for (const t of targets) await runRound(t, null);
  }
  await sleep(200);
  // Measured rounds, interleaved across targets so that slow drifts on the box hit all of them alike.
  const delays = Object.fromEntries(targets.map((t) => [t.name, []]));
  const errors = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      errors[t.name].push(...await runRound(t, delays[t.name]));
      await sleep(100);
    }
  }
  for (const t of targets) {
    const d = delays[t.name];
    out.targets[t.name] = { ...quantiles(d), over_1ms: d.filter((x) => x > 1000).length,
      over_2ms: d.filter((x) => x > 2000).length, errors: errors[t.name].length,
      error_samples: errors[t.name].slice(0, 5) };
    raw[t.name] = d.map((x) => Math.round(x));
  }
  if (args.out) fs.writeFileSync(args.out, JSON.stringify({ delays_us: raw, over_2ms_at_epoch_ms: slow }));
  agent.destroy();
  await worker.terminate();
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

// ------------------------------------------------------------------ upstream mode

async function upstream(args) {
  const { server, stats } = fakeOllama({ lines: +(args.lines || 10), intervalMs: +(args['interval-ms'] || 1000),
    firstAtOnce: args.stagger !== '1' });
  server.listen(+args.port, '127.0.0.1', 2048, () => { if (!isMainThread) parentPort.postMessage('listening'); });
  if (!isMainThread) return;
  const stop = () => { process.stderr.write('upstream stats ' + JSON.stringify(stats) + '\n'); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ------------------------------------------------------------------ capacity mode

async function capacity(args) {
  const base = args.url;
  const key = args.key || '';
  const total = +args.total;
  const expIn = args['expect-inflight'] !== undefined ? +args['expect-inflight'] : null;
  const expQ = args['expect-queued'] !== undefined ? +args['expect-queued'] : null;
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const samples = [];
  let polling = true;
  let pollErrors = 0;
  const t0 = nowUs();
  const poller = (async () => {
    while (polling) {
      try {
        const s = await getJson(pollAgent, new URL('/queue/summary', base), key);
        samples.push({ t_ms: Math.round((nowUs() - t0) / 1000), status: s.status, queued: s.body.queued, in_flight: s.body.in_flight });
      } catch (e) {
        pollErrors++;
        samples.push({ t_ms: Math.round((nowUs() - t0) / 1000), error: String(e.message) });
      }
      await sleep(200);
    }
  })();

  const results = await Promise.all(Array.from({ length: total }, (_, i) => streamRequest(agent, base, key, 'c' + i, null)));
  const elapsedS = (nowUs() - t0) / 1e6;
  polling = false;
  await poller;

  const statuses = {};
  const errors = {};
  let incomplete = 0;
  let maxHeadersMs = 0;
  let maxWaitHeader = 0;
  const lineCounts = {};
  for (const r of results) {
    statuses[r.status] = (statuses[r.status] || 0) + 1;
    if (r.error) errors[r.error] = (errors[r.error] || 0) + 1;
    if (r.status === 200 && (!r.done || r.error)) incomplete++;
    lineCounts[r.lines] = (lineCounts[r.lines] || 0) + 1;
    if (r.headersMs > maxHeadersMs) maxHeadersMs = r.headersMs;
    if (r.waitHeader !== null && +r.waitHeader > maxWaitHeader) maxWaitHeader = +r.waitHeader;
  }
  const ok = samples.filter((s) => s.error === undefined);
  const maxQueued = Math.max(0, ...ok.map((s) => s.queued));
  const maxInFlight = Math.max(0, ...ok.map((s) => s.in_flight));
  const both = ok.filter((s) => (expIn === null || s.in_flight === expIn) && (expQ === null || s.queued === expQ));
  let upstreamStats = null;
  if (args['stats-url']) {
    try { upstreamStats = (await getJson(pollAgent, args['stats-url'], null)).body; } catch (e) { upstreamStats = { error: String(e.message) }; }
  }
  const out = {
    total, elapsed_s: +elapsedS.toFixed(1), statuses, errors, incomplete_200_streams: incomplete, lines_per_response: lineCounts,
    max_queued_seen: maxQueued, max_in_flight_seen: maxInFlight,
    samples_with_expected_inflight_and_queued: both.length, first_such_sample: both[0] || null,
    summary_samples: samples.length, summary_poll_errors: pollErrors,
    max_time_to_headers_ms: Math.round(maxHeadersMs), max_x_queue_wait_time_ms: maxWaitHeader,
    upstream: upstreamStats,
  };
  if (args.out) fs.writeFileSync(args.out, JSON.stringify({ summary: out, samples }, null, 1));
  agent.destroy();
  pollAgent.destroy();
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

// ------------------------------------------------------------------ main

const args = parseArgs(process.argv.slice(2));
const mode = args._[0];
const modes = { latency, upstream, capacity };
if (!modes[mode]) {
  process.stderr.write('usage: stream.js latency|upstream|capacity [options] (see the header of this file)\n');
  process.exit(2);
}
modes[mode](args).catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
