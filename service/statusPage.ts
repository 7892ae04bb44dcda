import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

// The page lives beside the sources (service/public) and is not compiled: from dist/service/ it
// is two folders up and back down, from the TypeScript sources it is right here.
const CANDIDATES = ['./public/index.html', '../../service/public/index.html'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/**
 * GET /: the status page, one static HTML file with its script inline (no build step). It reads
 * /status and /status/history itself and refreshes every few seconds.
 */
export function statusPage(app: FastifyInstance): void {
  const file = CANDIDATES.find((candidate) => fs.existsSync(candidate));
  if (!file) throw new Error(`the status page is missing (looked for ${CANDIDATES.join(', ')})`);
  const html = fs.readFileSync(file);
  app.get('/', async (_request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache');
    return html;
  });
}
