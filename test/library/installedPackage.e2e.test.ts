import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../support/cli.js';

/**
 * eventlake as a user gets it: the packed tarball installed into a fresh project made by
 * `eventlake init`, whose typed TypeScript domains import only from 'eventlake'. One pack and one
 * install (from the npm cache where it can) are shared by every test here.
 */
const LONG = 1_200_000;
const packageJson = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd, env: { ...process.env, CI: '1', npm_config_update_notifier: 'false' }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const PARKING = `import { domainOf, type Event } from 'eventlake';

export type ParkingEvent =
  | Event<'SpotAdded', { spot: string; zone: string }>
  | Event<'SpotTaken', { spot: string; plate: string }>
  | Event<'SpotFreed', { spot: string }>;

const parking = domainOf<ParkingEvent>();

const spot = parking.aggregate({
  aggregateType: 'spot',
  rejections: ['spot_taken'],
  evolve: (_state: { plate: string | null } | undefined, event): { plate: string | null } => ({ plate: event.eventType === 'SpotTaken' ? event.data.plate : null }),
});

const addSpot = spot.command({
  commandName: 'AddSpot',
  schema: { type: 'object', additionalProperties: false, required: ['spot', 'zone'], properties: { spot: { type: 'string', minLength: 1 }, zone: { enum: ['north', 'south'] } } },
  aggregateId: (c) => c.spot,
  decide: (state, c) => (state ? { code: 'duplicate_aggregate', message: \`spot \${c.spot} exists\` } : [{ eventType: 'SpotAdded', data: { spot: c.spot, zone: c.zone } }]),
});

const take = spot.command({
  commandName: 'TakeSpot',
  schema: { type: 'object', additionalProperties: false, required: ['spot', 'plate'], properties: { spot: { type: 'string' }, plate: { type: 'string', pattern: '^[A-Z0-9-]+$' } } },
  aggregateId: (c) => c.spot,
  decide(state, c) {
    if (!state) return { code: 'not_found', message: \`no spot \${c.spot}\` };
    if (state.plate !== null) return { code: 'SPOT_CODE', message: \`spot \${c.spot} is taken by \${state.plate}\` };
    return [{ eventType: 'SpotTaken', data: { spot: c.spot, plate: c.plate } }];
  },
});

const occupancy = parking.stateProjection({
  name: 'spots',
  version: 1,
  description: 'who is parked where',
  eventTypes: ['SpotAdded', 'SpotTaken'],
  columns: [{ name: 'spot', type: 'VARCHAR' }, { name: 'zone', type: 'VARCHAR' }, { name: 'plate', type: 'VARCHAR' }],
  key: 'spot',
  orderBy: 'spot',
  keyOf: (e) => e.data.spot,
  evolve: (row, e) => (e.eventType === 'SpotAdded' ? { spot: e.data.spot, zone: e.data.zone, plate: null } : { ...row, plate: e.data.plate }),
});

const takenPerDay = parking.sqlProjection({
  name: 'taken_per_day',
  version: 1,
  description: 'spots taken per UTC day',
  eventTypes: ['SpotTaken'],
  columns: [{ name: 'day', type: 'DATE' }, { name: 'taken', type: 'BIGINT' }],
  sql: "SELECT CAST(timestamp AS DATE) AS day, count(*) AS taken FROM events GROUP BY ALL",
  merge: { kind: 'combine', key: ['day'], columns: { taken: 'count' } },
});

export default parking.define({ name: 'parking', aggregates: [spot], commands: [addSpot, take], projections: [occupancy, takenPerDay], sqlFile: 'parking.sql' });
`;

const PARKING_SQL = `CREATE VIEW parked AS SELECT spot, zone, plate FROM read_models.spots WHERE plate IS NOT NULL;
CREATE VIEW daily_taken AS SELECT day, CAST(sum(taken) AS BIGINT) AS taken FROM read_models.taken_per_day GROUP BY day;
`;

const COMMANDS = [
  { command_id: 'p1', command_name: 'AddSpot', received: '2026-03-01T07:00:00Z', command: { spot: 'N1', zone: 'north' } },
  { command_id: 'p2', command_name: 'AddSpot', received: '2026-03-01T07:00:01Z', command: { spot: 'S1', zone: 'south' } },
  { command_id: 'p3', command_name: 'TakeSpot', received: '2026-03-01T08:00:00Z', command: { spot: 'N1', plate: 'EL-123' } },
  { command_id: 'p4', command_name: 'TakeSpot', received: '2026-03-01T09:00:00Z', command: { spot: 'N1', plate: 'EL-999' } },
  { command_id: 'p5', command_name: 'TakeSpot', received: '2026-03-02T09:00:00Z', command: { spot: 'S1', plate: 'lower' } },
].map((c) => JSON.stringify(c)).join('\n');

describe('the packed package, installed into a project made by eventlake init', () => {
  let tarball: string;
  let app: string;
  let packedFiles: string[];
  let installLog: string;
  const cli = (...args: string[]) => run(process.execPath, [path.join(app, 'node_modules', 'eventlake', 'bin', 'eventlake.js'), ...args], app);

  beforeAll(async () => {
    const work = tempDir('eventlake-package-');
    // dist/ is the build `npm test` made; packing must not rebuild it under the other tests' feet,
    // so the lifecycle scripts (prepack cleans, prepare builds) are skipped here.
    const [packed] = JSON.parse(await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO)) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, packed.filename);
    packedFiles = packed.files.map((f) => f.path);
    app = path.join(work, 'app');
    await ok(process.execPath, [path.join(REPO, 'bin', 'eventlake.js'), 'init', app, '--dependency', `file:${tarball}`], REPO);
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'warn'], app);
    installLog = `${install.stdout}\n${install.stderr}`;
    if (install.code !== 0) throw new Error(`npm install in the scaffold failed:\n${installLog}`);
  }, LONG);

  it('packs what runs and nothing else: compiled code with types, SQL, the status page, the template, bin, README, LICENSE', () => {
    for (const file of ['dist/api/index.js', 'dist/api/index.d.ts', 'dist/cli/main.js', 'bin/eventlake.js', 'sql/superchargers.sql', 'service/public/index.html', 'templates/init/src/bank.ts', 'templates/init/gitignore', 'README.md', 'LICENSE', 'package.json']) {
      expect(packedFiles, file).toContain(file);
    }
    const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' }).split('\n'));
    const strays = packedFiles.filter((f) => !(f.startsWith('dist/') && /\.(js|d\.ts)$/.test(f)) && !tracked.has(f));
    expect(strays, 'untracked files in the tarball').toEqual([]);
    expect(packedFiles.filter((f) => f.startsWith('test/') || f.startsWith('dist/bench/') || (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('templates/')))).toEqual([]);
  });

  it('installs without engine warnings on this Node', () => {
    expect(installLog).not.toMatch(/EBADENGINE/);
  });

  it("the scaffold's own tests pass: npm test type-checks the domain and runs the harness", async () => {
    const result = await run('npm', ['test'], app);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/6 passed/);
  }, LONG);

  it('eventlake --version and init from the installed CLI', async () => {
    expect((await cli('--version')).stdout.trim()).toBe(packageJson.version);
    const again = path.join(path.dirname(app), 'again');
    expect((await cli('init', again)).code).toBe(0);
    expect(fs.readFileSync(path.join(again, 'src', 'bank.ts'), 'utf8')).toBe(fs.readFileSync(path.join(app, 'src', 'bank.ts'), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(again, 'package.json'), 'utf8')).dependencies.eventlake).toBe(`^${packageJson.version}`);
    const refused = await cli('init', again);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty/);
  }, LONG);

  it('a typed domain written in the project type-checks against the installed types, and a wrong rejection code does not', async () => {
    fs.writeFileSync(path.join(app, 'src', 'parking.ts'), PARKING.replace('SPOT_CODE', 'spot_taken'));
    fs.writeFileSync(path.join(app, 'src', 'parking.sql'), PARKING_SQL);
    const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    const good = await run(process.execPath, [tsc, '--noEmit', '-p', '.'], app);
    expect(good.code, good.stdout).toBe(0);
    fs.writeFileSync(path.join(app, 'src', 'parking-broken.ts'), PARKING.replace('SPOT_CODE', 'spot_taken_typo'));
    const broken = await run(process.execPath, [tsc, '--noEmit', '-p', '.'], app);
    fs.rmSync(path.join(app, 'src', 'parking-broken.ts'));
    expect(broken.code).not.toBe(0);
    expect(broken.stdout).toMatch(/parking-broken\.ts.*error TS2322/);
    expect(broken.stdout).toMatch(/"spot_taken_typo"/);
  }, LONG);

  it('ingest -> run -> query with the installed CLI, the TypeScript domains loaded as they are', async () => {
    fs.writeFileSync(path.join(app, 'jobs.config.json'), JSON.stringify({ lake: './lake', domains: ['./src/bank.ts', './src/parking.ts'] }));
    fs.writeFileSync(path.join(app, 'parking.ndjson'), `${COMMANDS}\n`);
    const bank = JSON.parse((await cli('ingest', 'commands.ndjson', '--json')).stdout);
    expect(bank).toMatchObject({ accepted: 3, rejected: 1, errors: [{ line: 4, code: 'insufficient_funds' }] });
    const parking = JSON.parse((await cli('ingest', 'parking.ndjson', '--json')).stdout);
    expect(parking).toMatchObject({ accepted: 3, rejected: 2, errors: [{ line: 4, code: 'spot_taken' }, { line: 5, code: 'schema' }] });
    expect((await cli('run')).code).toBe(0);
    const query = async (sql: string) => {
      const result = await cli('query', sql, '--json');
      if (result.code !== 0) throw new Error(result.stderr);
      return JSON.parse(result.stdout) as Record<string, unknown>[];
    };
    expect(await query('SELECT account_id, owner, balance, updated_at FROM accounts')).toEqual([{ account_id: 'A1', owner: 'Ada', balance: 70, updated_at: '2026-01-01T10:00:00.000Z' }]);
    expect(await query("SELECT balance FROM accounts_as_of(TIMESTAMP '2026-01-01 09:30')")).toEqual([{ balance: 100 }]);
    expect(await query('SELECT spot, zone, plate FROM parked')).toEqual([{ spot: 'N1', zone: 'north', plate: 'EL-123' }]);
    expect(await query('SELECT day, taken FROM daily_taken')).toEqual([{ day: '2026-03-01', taken: 1 }]);
    expect(await query("SELECT code, count(*) AS n FROM command_status WHERE status = 'rejected' GROUP BY code ORDER BY code")).toEqual([
      { code: 'insufficient_funds', n: 1 },
      { code: 'schema', n: 1 },
      { code: 'spot_taken', n: 1 },
    ]);
  }, LONG);

  it('the public API imports at run time by the package name (exports)', async () => {
    const result = await run(process.execPath, ['--input-type=module', '-e', "const api = await import('eventlake'); console.log(typeof api.domainOf, typeof api.deciderSpec, typeof api.viewRows)"], app);
    expect(result.stdout.trim()).toBe('function function function');
  });
});
