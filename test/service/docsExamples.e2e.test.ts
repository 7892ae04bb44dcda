import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { startServer, waitReady, type RunningServer } from '../support/server.js';

interface CurlExample {
  text: string;
  method: string;
  path: string;
  body: string | undefined;
}

/** The curl examples of docs/service.md, in order: method, path after $URL, and the -d body. */
function curlExamples(markdown: string): CurlExample[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].replace(/\\\n\s*/g, ' '));
  const invocations = blocks.flatMap((block) => block.split(/(?=^curl )/m).filter((part) => part.startsWith('curl ')));
  return invocations.map((text) => ({
    text: text.split('\n')[0],
    method: /-X (\w+)/.exec(text)?.[1] ?? 'GET',
    path: /\$URL(\/\S*)/.exec(text)![1],
    body: /-d '([\s\S]*?)'/.exec(text)?.[1],
  }));
}

/** Every curl example in the service docs works against a real server: the docs cannot rot. */
describe('docs/service.md examples', () => {
  const examples = curlExamples(fs.readFileSync(path.join(REPO, 'docs', 'service.md'), 'utf8'));
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer();
    await waitReady(server);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it('documents every endpoint', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    const documented = new Set(examples.map((e) => `${e.method} ${e.path.replace(/\/commands\/.+/, '/commands/:id')}`));
    for (const endpoint of ['POST /commands', 'GET /commands/:id', 'POST /query', 'GET /events/stream', 'GET /status', 'GET /status/history', 'GET /metrics', 'GET /healthz', 'GET /readyz']) {
      expect(documented, endpoint).toContain(endpoint);
    }
  });

  it('runs each example in order and gets a success', async () => {
    for (const example of examples) {
      if (example.path === '/events/stream') continue; // a stream that never ends; liveViews.e2e covers it
      const response = await fetch(`${server.url}${example.path}`, {
        method: example.method,
        headers: example.body === undefined ? {} : { 'content-type': 'application/json' },
        body: example.body,
      });
      await response.arrayBuffer();
      expect(response.status, example.text).toBeLessThan(300);
    }
  });
});
