/**
 * Starts Azurite's blob service (npm `azurite`) on loopback for a test: in memory, on a free
 * port, telemetry off (Azurite otherwise reports usage over the network). Used for the
 * pieces Azurite does serve faithfully, such as the Event Hubs checkpoint store's blobs;
 * for ADLS Gen2 (the DFS endpoint, which Azurite lacks) see dfsServer.ts.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented, not a secret). */
export const devAccountName = 'devstoreaccount1';
export const devAccountKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const require = createRequire(import.meta.url);
  const main = join(dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const child = spawn(process.execPath, [
    main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence',
    '--extentMemoryLimit', '64', '--disableTelemetry', '--skipApiVersionCheck', '--silent',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`azurite exited with ${code}: ${output}`)));
  });
  const blobEndpoint = `http://127.0.0.1:${port}/${devAccountName}`;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${devAccountName};AccountKey=${devAccountKey};BlobEndpoint=${blobEndpoint};`,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
