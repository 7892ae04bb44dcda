import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A private PostgreSQL cluster the bench starts for the peer and removes afterwards. */
export interface PostgresCluster {
  connectionString: string;
  version: string;
  stop(): void;
}

/** Where Debian's postgresql package puts initdb and pg_ctl (newest major first), or null. */
function findBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const majors = fs.readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const dir = path.join(root, major, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Finds PostgreSQL, installing Debian's `postgresql` package when missing and running as root.
 * Returns the bin folder, or the reason the peer cannot run.
 */
export function ensurePostgres(log: (line: string) => void): { binDir: string } | { skip: string } {
  let binDir = findBinDir();
  if (binDir) return { binDir };
  if (!isRoot()) return { skip: 'PostgreSQL is not installed and the bench is not root, so it cannot apt-get install postgresql' };
  log('installing PostgreSQL (apt-get install -y postgresql) ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'postgresql']]) {
    const run = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (run.status !== 0) return { skip: `apt-get ${args.join(' ')} failed: ${run.stderr?.toString().trim().split('\n').pop() ?? run.error?.message}` };
  }
  binDir = findBinDir();
  return binDir ? { binDir } : { skip: 'apt-get installed postgresql, but no initdb/pg_ctl under /usr/lib/postgresql' };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * initdb + pg_ctl start in a temp folder, listening on 127.0.0.1 and a socket in the same folder.
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user. Durability
 * settings stay at their defaults (fsync, synchronous_commit on): the peer must pay for durable
 * commits as we do.
 */
export async function startCluster(binDir: string): Promise<PostgresCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-bench-pg-'));
  const data = path.join(dir, 'data');
  const asUser = isRoot() ? ['runuser', '-u', 'postgres', '--'] : [];
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const run = (tool: string, args: string[]) => {
    const [command, ...rest] = [...asUser, path.join(binDir, tool), ...args];
    return execFileSync(command, rest, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  };
  run('initdb', ['-D', data, '-U', 'bench', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c max_connections=100`;
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  const version = run('postgres', ['--version']).trim();
  return {
    connectionString: `postgresql://bench@127.0.0.1:${port}/postgres`,
    version,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
