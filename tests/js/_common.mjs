// Shared by the conformance scripts: load the pinned @google/genai from the
// cache outside the repository, connect it to a rawlive server, and collect
// one model turn at a time. Every wait is bounded; the script prints one JSON
// line on stdout and exits 0, or prints the error on stderr and exits 1.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const cache = process.env.RAWLIVE_JS_CACHE;
if (!cache) throw new Error('RAWLIVE_JS_CACHE is not set');
const entry = join(cache, 'node_modules', '@google', 'genai', 'dist', 'node', 'index.mjs');
export const genai = await import(pathToFileURL(entry).href);

export const MODEL = 'gemini-2.0-flash-live-001';
const STEP_MS = Number(process.env.RAWLIVE_JS_STEP_MS || 10000);

// A client for a rawlive server at baseUrl (http://HOST:PORT or https://...).
// The Live endpoint is on v1beta: both SDKs default to v1, which the service
// (and rawlive's servers, under their service rules) refuse.
export function client(baseUrl) {
  return new genai.GoogleGenAI({
    apiKey: process.env.RAWLIVE_JS_KEY || 'test-key-not-secret',
    httpOptions: { baseUrl, apiVersion: process.env.RAWLIVE_JS_API_VERSION || 'v1beta' },
  });
}

// Connect and return {session, next}: next(pred) resolves with the first
// queued message matching pred (dropping the ones before it), or rejects
// after STEP_MS or when the connection closes.
export async function open(baseUrl, config) {
  const queue = [];
  const waiters = [];
  let closed = null;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const session = await client(baseUrl).live.connect({
    model: MODEL,
    config,
    callbacks: {
      onmessage: (m) => { queue.push(m); wake(); },
      onerror: (e) => { closed = closed || `error: ${e.message || e}`; wake(); },
      onclose: (e) => { closed = closed || `closed ${e.code} ${e.reason}`; wake(); },
    },
  });
  async function next(pred) {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      while (queue.length) {
        const m = queue.shift();
        if (pred(m)) return m;
      }
      if (closed) throw new Error(closed);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${STEP_MS} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }
  return { session, next, messages: queue };
}

// Collect one model turn: text, audio bytes, transcripts, tool calls.
export async function turn(next) {
  const out = { text: '', audio: [], mime: null, input: '', output: '', toolCall: null };
  for (;;) {
    const m = await next(() => true);
    if (m.toolCall) out.toolCall = m.toolCall;
    const sc = m.serverContent;
    if (!sc) continue;
    for (const part of sc.modelTurn?.parts ?? []) {
      if (part.text) out.text += part.text;
      if (part.inlineData) {
        out.audio.push(Buffer.from(part.inlineData.data, 'base64'));
        out.mime = part.inlineData.mimeType;
      }
    }
    if (sc.inputTranscription?.text) out.input += sc.inputTranscription.text;
    if (sc.outputTranscription?.text) out.output += sc.outputTranscription.text;
    if (sc.turnComplete) return out;
  }
}

export function userText(text) {
  return { turns: [{ role: 'user', parts: [{ text }] }], turnComplete: true };
}

// Write PCM16 mono at the rate of the MIME type to a WAV file; return the rate.
export function writeWav(path, chunks, mime) {
  const rate = Number(/rate=(\d+)/.exec(mime || '')?.[1] || 24000);
  const pcm = Buffer.concat(chunks);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(pcm.length, 40);
  writeFileSync(path, Buffer.concat([header, pcm]));
  return rate;
}

// Run main() and print its result as one JSON line; exit 1 on any error.
export function run(main) {
  main().then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
      process.exit(1);
    },
  );
}
