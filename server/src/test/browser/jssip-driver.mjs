// Drives JsSIP phones in headless Debian Chromium for the server module's tests (JsSipBrowser.java).
//
// Protocol: one JSON command per line on stdin, one JSON answer per line on stdout:
//   {"id":1,"op":"phone","name":"alice","wsUrl":"ws://127.0.0.1:PORT/sip","uri":"sip:alice@d","password":"..."}
//   {"id":1,"ok":true,"result":...}   or   {"id":1,"ok":false,"error":"..."}
// Ops: phone, answerCalls, call, hangUp, hold, unhold, sendDtmf, unregister, wait, events, close
// (answers, then exits). Page console output and diagnostics go to stderr. Every wait is bounded;
// the driver exits by itself after IDLE_LIMIT_MS without a command, on stdin's end and on SIGTERM,
// and always closes Chromium (and removes its fresh profile) before exiting.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const IDLE_LIMIT_MS = Number(process.env.DRIVER_IDLE_LIMIT_MS || 120000);
const DEFAULT_WAIT_MS = 10000;
// more Chromium flags from the test, a JSON array (e.g. the SPKI hash of a test certificate to trust)
const EXTRA_ARGS = JSON.parse(process.env.CHROMIUM_EXTRA_ARGS || '[]');

const phones = new Map(); // name -> Page
let context = null;
let userDataDir = null;
let closing = null;

function reply(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function log(...parts) {
  process.stderr.write(parts.join(' ') + '\n');
}

async function launch() {
  userDataDir = mkdtempSync(join(tmpdir(), 'switchboard-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    // Playwright would catch these and close Chromium itself; this script does it in shutdown()
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      '--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,Translate',
      ...EXTRA_ARGS,
    ],
  });
  context.setDefaultTimeout(DEFAULT_WAIT_MS);
}

function page(name) {
  const p = phones.get(name);
  if (!p) throw new Error(`no phone named ${name}`);
  return p;
}

/** The first event at index >= from whose type is one of types and whose fields match. */
async function waitFor(p, { types, match = {}, from = 0, timeoutMs = DEFAULT_WAIT_MS }) {
  const handle = await p.waitForFunction(({ types, match, from }) => {
    const events = window.phone.events;
    for (let i = from; i < events.length; i++) {
      const e = events[i];
      if (types.includes(e.type) && Object.entries(match).every(([k, v]) => e[k] === v)) {
        return Object.assign({ index: i }, e);
      }
    }
    return null;
  }, { types, match, from }, { timeout: timeoutMs, polling: 50 });
  return handle.jsonValue();
}

const ops = {
  async phone({ name, wsUrl, uri, password }) {
    if (phones.has(name)) throw new Error(`phone ${name} exists`);
    if (!context) await launch();
    const p = await context.newPage();
    p.on('console', (m) => log(`[${name}] ${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log(`[${name}] page error: ${e.message}`));
    await p.goto(pathToFileURL(join(HERE, 'jssip.html')).href);
    if (process.env.JSSIP_DEBUG) {
      await p.evaluate(() => JsSIP.debug.enable('JsSIP:*'));
    }
    phones.set(name, p);
    await p.evaluate((config) => window.phone.start(config), { wsUrl, uri, password });
    return { secureContext: await p.evaluate(() => window.isSecureContext) };
  },
  async answerCalls({ name, enabled }) {
    await page(name).evaluate((on) => window.phone.answerCalls(on), enabled !== false);
  },
  async call({ name, target }) {
    return page(name).evaluate((t) => window.phone.call(t), target);
  },
  async hangUp({ name, callId }) {
    await page(name).evaluate((id) => window.phone.hangUp(id), callId);
  },
  async hold({ name, callId }) {
    return page(name).evaluate((id) => window.phone.hold(id), callId);
  },
  async unhold({ name, callId }) {
    return page(name).evaluate((id) => window.phone.unhold(id), callId);
  },
  async sendDtmf({ name, callId, tones }) {
    await page(name).evaluate(([id, t]) => window.phone.sendDtmf(id, t), [callId, tones]);
  },
  async unregister({ name }) {
    await page(name).evaluate(() => window.phone.unregister());
  },
  async wait(command) {
    return waitFor(page(command.name), command);
  },
  async events({ name }) {
    return page(name).evaluate(() => window.phone.events);
  },
};

async function shutdown(code) {
  if (!closing) {
    closing = (async () => {
      try {
        for (const p of phones.values()) {
          // a UA that stops sends REGISTER Expires: 0 and BYE for open calls; best effort, bounded
          await Promise.race([p.evaluate(() => window.phone.stop()).catch(() => {}),
            new Promise((r) => setTimeout(r, 1000))]);
        }
        if (context) {
          await Promise.race([context.close(), new Promise((r) => setTimeout(r, 5000))]);
        }
      } catch (e) {
        log(`closing chromium: ${e.message}`);
      } finally {
        if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
        process.exit(code);
      }
    })();
  }
  return closing;
}

let idle = setTimeout(() => { log('driver: no command for', IDLE_LIMIT_MS, 'ms, exiting'); shutdown(3); }, IDLE_LIMIT_MS);
process.on('SIGTERM', () => shutdown(143));
process.on('SIGINT', () => shutdown(130));

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  clearTimeout(idle);
  idle = setTimeout(() => { log('driver: no command for', IDLE_LIMIT_MS, 'ms, exiting'); shutdown(3); }, IDLE_LIMIT_MS);
  // commands run one after another, in the order they came
  queue = queue.then(async () => {
    let command;
    try {
      command = JSON.parse(line);
    } catch (e) {
      reply({ id: null, ok: false, error: `not JSON: ${e.message}` });
      return;
    }
    if (command.op === 'close') {
      reply({ id: command.id, ok: true, result: null });
      await shutdown(0);
      return;
    }
    const op = ops[command.op];
    if (!op) {
      reply({ id: command.id, ok: false, error: `unknown op ${command.op}` });
      return;
    }
    try {
      const result = await op(command);
      reply({ id: command.id, ok: true, result: result === undefined ? null : result });
    } catch (e) {
      reply({ id: command.id, ok: false, error: e.message });
    }
  });
});
lines.on('close', () => { queue.then(() => shutdown(0)); });
