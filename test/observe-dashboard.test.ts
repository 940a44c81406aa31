/**
 * The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core
 * (which downloads no browser), loads the page from the http listener, tails a filter over
 * MQTT over WebSocket, and must show a message ts-mosquitto_pub publishes; the message-rate
 * chart must move while a client publishes. A screenshot goes to test-artifacts/.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import mqtt from 'mqtt';
import { startObserved, stopObserved } from './helpers/observe.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is required under CI`);
const ARTIFACTS = path.resolve('test-artifacts');

let browser: Browser | undefined;

beforeAll(async () => {
  if (!haveChromium) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await stopObserved();
});

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  it('tails a published message over WebSocket and charts the message rate', { timeout: 60_000 }, async () => {
    const o = await startObserved();
    const pub = mqtt.connect({ host: '127.0.0.1', port: o.mqttPort, clientId: 'sensor-station-7', reconnectPeriod: 0 });
    await new Promise((r, j) => (pub.once('connect', r), pub.once('error', j)));
    await pub.publishAsync('sensors/kitchen/temp', JSON.stringify({ celsius: 21.5, humidity: 40 }), { retain: true, qos: 1 });
    await pub.publishAsync('sensors/garage/door', 'closed', { retain: true, qos: 1 });
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${o.httpPort}/`);
      await page.waitForFunction(() => document.getElementById('status')!.textContent === 'live');
      // The page found the broker's websockets listener and offers it for the tail.
      expect(await page.inputValue('#tail-listener')).toBe(`ws://127.0.0.1:${o.wsPort}/mqtt`);
      await page.fill('#tail-filter', 'dash/#');
      await page.click('#tail-start');
      await page.waitForFunction(() => document.getElementById('tail-status')!.textContent === 'subscribed to dash/#');

      // A real client program publishes (asynchronously: the broker runs in this process); the page must show it.
      await promisify(execFile)(process.execPath, ['bin/ts-mosquitto_pub.js', '-p', String(o.mqttPort), '-t', 'dash/hello', '-m', 'hello from ts-mosquitto_pub'], { timeout: 10_000 });
      await page.waitForFunction(() =>
        [...document.querySelectorAll('#tail .tail-msg')].some((li) => li.textContent === 'dash/hello hello from ts-mosquitto_pub'),
      );

      // The rate chart: flat at first, then moving while a client publishes.
      const pixels = (): Promise<string> => page.$eval('#chart-rates canvas', (c) => (c as HTMLCanvasElement).toDataURL());
      const before = await pixels();
      const timer = setInterval(() => {
        for (let i = 0; i < 50; i++) pub.publish('dash/load', 'x');
      }, 50);
      try {
        await page.waitForFunction(() => {
          const s = (window as unknown as { tsDashboard: { series: { in: number[] } } }).tsDashboard.series.in;
          return s.length >= 3 && Math.max(...s) >= 100;
        }, undefined, { timeout: 15_000 });
      } finally {
        clearInterval(timer);
      }
      expect(await pixels()).not.toBe(before);
      const tailed = await page.$$eval('#tail .tail-msg', (lis) => lis.length);
      expect(tailed).toBeGreaterThan(1);

      // The clients table and the topic browser with a JSON payload pretty-printed.
      await page.waitForFunction(() => document.querySelector('#clients tbody')!.textContent!.includes('sensor-station-7'));
      await page.click('#topics a:text("sensors/")');
      await page.click('#topics a:text("kitchen/")');
      await page.click('#topics a:text("temp")');
      await page.waitForFunction(() => document.getElementById('retained-payload')!.textContent!.includes('"celsius": 21.5'));
      expect(errors).toEqual([]);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    } finally {
      await page.close();
      pub.end(true);
    }
  });
});
