/// <reference lib="dom" />
// (the page functions below run in the browser)
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { changeStatus, post, registerCharger, startServer, waitReady, type RunningServer } from '../support/server.js';

// Debian's chromium package (.ci/run installs it); the test never downloads a browser.
const CHROMIUM = process.env.EVENTLAKE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`statusPage.e2e: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set EVENTLAKE_CHROMIUM)`);

/** The status page as a person sees it: a real headless browser against `eventlake serve`. */
describe.skipIf(!hasChromium)('eventlake serve: status page in a browser', () => {
  let server: RunningServer;
  let browser: BrowserContext;
  const profile = tempDir('eventlake-chromium-');

  beforeAll(async () => {
    server = await startServer({ args: ['--sample-interval', '200'] });
    await waitReady(server);
    await post(`${server.url}/commands`, [registerCharger('PAGE-1'), changeStatus('PAGE-1', 'inuse')]);
    await post(`${server.url}/commands`, changeStatus('PAGE-MISSING', 'inuse', 'page-rejected-1'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 1100 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (server) expect(await server.stop()).toBe(0);
    fs.rmSync(profile, { recursive: true, force: true });
  });

  it('shows the jobs, a lag chart, read-model sizes and the recent rejection', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    // Two refreshes later the chart has several samples (sampled every 200 ms here).
    await page.waitForFunction(() => Number(document.getElementById('lag-chart')?.dataset.samples) >= 2, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector('#read-models')?.textContent?.includes('superchargers'), undefined, { timeout: 20_000 });

    const jobs = await page.locator('#jobs tbody').innerText();
    for (const job of ['superchargers', 'supercharger_status_history', 'orders', 'command_status']) expect(jobs).toContain(job);
    expect(await page.locator('#lag-chart polyline.lag-line').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('#lag-legend').innerText()).toContain('superchargers');
    const rejections = await page.locator('#recent-rejections tbody').innerText();
    expect(rejections).toContain('not_found');
    expect(rejections).toContain('ChangeSuperchargerStatus');
    expect(rejections).toContain('page-rejected-1');
    expect(await page.locator('#recent-commands tbody').innerText()).toContain('RegisterSupercharger');
    expect(await page.locator('#counters').innerText()).toMatch(/2\s*accepted/);
    expect(await page.locator('#readiness').innerText()).toBe('ready');

    const shot = path.join(tempDir('eventlake-screenshot-'), 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    if (process.env.EVENTLAKE_KEEP_SCREENSHOT) fs.copyFileSync(shot, process.env.EVENTLAKE_KEEP_SCREENSHOT);
    expect(errors).toEqual([]);
  });
});
