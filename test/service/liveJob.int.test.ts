import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { acquireLock } from '../../lake/lock.js';
import { readCommittedHead } from '../../lake/log/committedHead.js';
import type { TableChange } from '../../projections/jobPass.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { LiveJob, type CatchUp } from '../../service/liveJob.js';
import { eventlakeJson, REPO, tempDir, writeNdjson } from '../support/cli.js';
import { changeStatus, registerCharger } from '../support/server.js';
import { armFailpoint, holdAt } from '../../lake/failpoints.js';
import { checkpointAppId } from '../../projections/jobSource.js';
import { DeltaTableReader } from '../support/deltaReader/deltaTableReader.js';
import { Duck, sqlString } from '../../lake/duckdb.js';

describe('a live job kept open between catch-ups', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  let config: EventlakeConfig;
  let layout: LakeLayout;
  const told: TableChange[] = [];
  const open: LiveJob[] = [];
  const liveJob = (name: string, memory = config.memory) => {
    const live = new LiveJob(layout, config.jobs.find((j) => j.name === name)!, config.partitions, (c) => told.push(c), memory);
    open.push(live);
    return live;
  };
  const tableVersion = async (name: string) => (await loadSnapshot(layout.tableDir(config.jobs.find((j) => j.name === name)!.output))).version;

  beforeAll(async () => {
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 200, seed: 5 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
    // Then only supercharger commands: the customers job reads none of their event types.
    const commands = ['PASS-1', 'PASS-2'].map((serial) => ({ command_id: `reg-${serial}`, ...registerCharger(serial) }));
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'd.ndjson'), commands)]);
    config = await loadConfig({ lake, cwd: REPO });
    layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
  }, 180_000);
  afterAll(async () => {
    for (const live of open) await live.close();
  });

  it('passes over records of event types the job does not read: no commit until maintain moves its checkpoint', async () => {
    const head = (await readCommittedHead(layout))!;
    const customers = liveJob('customers');
    const before = await tableVersion('customers');
    const caughtUp = await customers.catchUp(head);
    expect(caughtUp).toMatchObject({ commits: 0, deferred: true, firstRun: false });
    expect(await tableVersion('customers')).toBe(before);
    await customers.maintain();
    expect(await tableVersion('customers')).toBeGreaterThan(before);
    expect(told.filter((c) => c.job === 'customers').every((c) => c.change.added.length === 0 && c.change.replaced.length === 0)).toBe(true);
    // Nothing is left for a one-shot run: the checkpoint moved past the passed-over records.
    const runs = await eventlakeJson<{ job: string; applied: number }[]>(['--lake', lake, 'run', 'customers']);
    expect(runs.find((r) => r.job === 'customers')?.applied ?? 0).toBe(0);
  });

  it('tells each commit of a job that reads the records, with the rows it added', async () => {
    const head = (await readCommittedHead(layout))!;
    const superchargers = liveJob('superchargers');
    const before = await tableVersion('superchargers');
    const caughtUp = await superchargers.catchUp(head);
    expect(caughtUp).toMatchObject({ folded: 1, deferred: false, applied: 2 });
    expect(await caughtUp.landed).toBe(before + 1);
    expect(await tableVersion('superchargers')).toBe(before + 1);
    const change = told.find((c) => c.job === 'superchargers')!;
    expect(change.toVersion).toBe(change.fromVersion + 1);
    expect(change.change.added.map((a) => JSON.parse(a.key!).supercharger_serial).sort()).toEqual(['PASS-1', 'PASS-2']);
    // It says how far into the log the read model is shown with it (a POST /query `after` waits for that).
    expect(Object.keys(change.through ?? {}).length).toBeGreaterThan(0);
    for (const [stream, sequence] of Object.entries(change.through!)) expect(sequence, stream).toBe(head.streams[stream].sequence);
  });

  it('passes over new records without taking the job\'s lock: a one-shot run holding it does not make the catch-up fail', async () => {
    const customers = liveJob('customers');
    await customers.catchUp((await readCommittedHead(layout))!);
    const commands = ['LOCK-1', 'LOCK-2'].map((serial) => ({ command_id: `reg-${serial}`, ...registerCharger(serial) }));
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'lock.ndjson'), commands)]);
    const lock = await acquireLock(layout.lockFile('job-customers'), 'a test standing in for `eventlake run customers`');
    try {
      const caughtUp = await customers.catchUp((await readCommittedHead(layout))!);
      expect(caughtUp).toMatchObject({ commits: 0, applied: 0, deferred: true });
    } finally {
      await lock.release();
    }
  });

  it('folds and tells the next batches while a commit is being written; they land in one later commit, each row once', async () => {
    const history = liveJob('supercharger_status_history');
    const job = config.jobs.find((j) => j.name === 'supercharger_status_history')!;
    const ingest = async (name: string, commands: object[]) => {
      await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, `${name}.ndjson`), commands)]);
      return (await readCommittedHead(layout))!;
    };
    await (await history.catchUp((await readCommittedHead(layout))!)).landed;
    const start = await tableVersion(job.name);
    const hold = holdAt('projection.liveCommit');
    let held = true;
    try {
      const first = await history.catchUp(await ingest('hold-1', [registerCharger('HOLD-1', 'hold-reg-1'), changeStatus('HOLD-1', 'inuse', 'hold-st-1')]));
      await hold.reached; // the first batch's commit is being written, and stays so
      const second = await history.catchUp(await ingest('hold-2', [changeStatus('HOLD-1', 'serviced', 'hold-st-2'), registerCharger('HOLD-2', 'hold-reg-2')]));
      const third = await history.catchUp(await ingest('hold-3', [changeStatus('HOLD-2', 'inuse', 'hold-st-3')]));
      expect([first.folded, second.folded, third.folded]).toEqual([1, 1, 1]);
      // Both later batches were told while the first commit was held: against the first batch's rows, not the table's.
      expect(await tableVersion(job.name)).toBe(start);
      const steps = told.filter((c) => c.job === job.name && c.toVersion > start);
      expect(steps.map((c) => [c.fromVersion, c.toVersion, c.part ?? 0])).toEqual([[start, start + 1, 0], [start + 1, start + 2, 0], [start + 1, start + 2, 1]]);
      expect(steps[1].change.replaced.map((k) => JSON.parse(k).supercharger_serial)).toEqual(['HOLD-1']);
      expect(steps[1].change.added.filter((a) => a.mutable).map((a) => JSON.parse(a.row).status).sort()).toEqual(['notinuse', 'serviced']);
      hold.release();
      held = false;
      expect(await third.landed).toBe(start + 2);
    } finally {
      if (held) hold.release();
    }
    // The table (read by the test's own Delta reader) holds every row once: two commits for three batches.
    const reader = new DeltaTableReader(layout.tableDir(job.output));
    expect(await reader.latestVersion()).toBe(start + 2);
    const rows = (await reader.rows()).filter((r) => String(r.supercharger_serial).startsWith('HOLD-'));
    const shown = rows.map((r) => `${r.supercharger_serial} ${r.status} ${r.valid_to === null ? 'open' : 'closed'}`).sort();
    expect(shown).toEqual(['HOLD-1 inuse closed', 'HOLD-1 notinuse closed', 'HOLD-1 serviced open', 'HOLD-2 inuse open', 'HOLD-2 notinuse closed']);
    const checkpoint = (await reader.snapshot()).txns;
    const head = (await readCommittedHead(layout))!;
    for (const [stream, { sequence }] of Object.entries(head.streams)) if (stream !== 'commands') expect(checkpoint.get(checkpointAppId(job, stream)) ?? 0).toBe(sequence);
  });

  it('a state job folds batches into the commit being gathered without temp tables: what it tells is what the table holds once committed', async () => {
    const superchargers = liveJob('superchargers');
    const job = config.jobs.find((j) => j.name === 'superchargers')!;
    const ingest = async (name: string, commands: object[]) => {
      await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, `${name}.ndjson`), commands)]);
      return (await readCommittedHead(layout))!;
    };
    await (await superchargers.catchUp((await readCommittedHead(layout))!)).landed;
    const start = await tableVersion(job.name);
    const hold = holdAt('projection.liveCommit');
    let held = true;
    try {
      await superchargers.catchUp(await ingest('state-1', [registerCharger('STATE-1', 'state-reg-1')]));
      await hold.reached;
      // The next commit's first batch makes its table; the second replaces STATE-1's row in it.
      await superchargers.catchUp(await ingest('state-2', [changeStatus('STATE-1', 'inuse', 'state-st-1'), registerCharger('STATE-2', 'state-reg-2')]));
      const third = await superchargers.catchUp(await ingest('state-3', [changeStatus('STATE-1', 'serviced', 'state-st-2'), changeStatus('STATE-2', 'inuse', 'state-st-3')]));
      hold.release();
      held = false;
      expect(await third.landed).toBe(start + 2);
    } finally {
      if (held) hold.release();
    }
    const steps = told.filter((c) => c.job === job.name && c.toVersion > start);
    expect(steps.map((c) => [c.fromVersion, c.toVersion, c.part ?? 0])).toEqual([[start, start + 1, 0], [start + 1, start + 2, 0], [start + 1, start + 2, 1]]);
    expect(steps.map((c) => c.change.replaced.map((k) => JSON.parse(k).supercharger_serial).sort())).toEqual([['STATE-1'], ['STATE-1', 'STATE-2'], ['STATE-1', 'STATE-2']]);
    // Each key's last told row is its row in the table (read by the test's own Delta reader), once.
    const lastTold = new Map<string, Record<string, unknown>>();
    for (const step of steps) for (const added of step.change.added) lastTold.set(JSON.parse(added.key!).supercharger_serial, JSON.parse(added.row));
    const reader = new DeltaTableReader(layout.tableDir(job.output));
    expect(await reader.latestVersion()).toBe(start + 2);
    const rows = (await reader.rows()).filter((r) => String(r.supercharger_serial).startsWith('STATE-'));
    const shown = (r: Record<string, unknown>) => `${r.supercharger_serial} ${r.status} v${Number(r.version)} ${r.location_name} ${Number(r.lat)}`;
    expect(rows.map(shown).sort()).toEqual([...lastTold.values()].map(shown).sort());
    expect(rows.map((r) => `${r.supercharger_serial} ${r.status}`).sort()).toEqual(['STATE-1 serviced', 'STATE-2 inuse']);
  });

  it('a live commit that fails drops the pass: the next catch-up folds its batches again from the checkpoint, each row once', async () => {
    const history = liveJob('supercharger_status_history');
    const job = config.jobs.find((j) => j.name === 'supercharger_status_history')!;
    await (await history.catchUp((await readCommittedHead(layout))!)).landed;
    const start = await tableVersion(job.name);
    const commands = [registerCharger('FAIL-1', 'fail-reg-1'), changeStatus('FAIL-1', 'inuse', 'fail-st-1')];
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'fail.ndjson'), commands)]);
    armFailpoint('projection.afterDataFile', 'EIO');
    let failed: CatchUp;
    try {
      failed = await history.catchUp((await readCommittedHead(layout))!);
      await expect(failed.landed).rejects.toThrow(/EIO/);
    } finally {
      armFailpoint('projection.afterDataFile', null);
    }
    expect(failed.folded).toBe(1);
    expect(await tableVersion(job.name)).toBe(start);
    const again = await history.catchUp((await readCommittedHead(layout))!);
    expect(again.folded).toBe(1);
    expect(await again.landed).toBe(start + 1);
    const rows = (await new DeltaTableReader(layout.tableDir(job.output)).rows()).filter((r) => r.supercharger_serial === 'FAIL-1');
    expect(rows.map((r) => `${r.status} ${r.valid_to === null ? 'open' : 'closed'}`).sort()).toEqual(['inuse open', 'notinuse closed']);
  });
  it('folds a state job\'s new key without reading the table, and still evolves a key the table or an evicted row holds', async () => {
    const ingest = async (name: string, commands: object[]) => {
      await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, `${name}.ndjson`), commands)]);
      return (await readCommittedHead(layout))!;
    };
    const job = config.jobs.find((j) => j.name === 'superchargers')!;
    // A row cache of a few bytes: every row the pass folds is evicted after its batch.
    const states = liveJob('superchargers', 256);
    await (await states.catchUp((await readCommittedHead(layout))!)).landed;
    await states.tableKeysRead(); // read behind the pass's first fold
    const readsFail = () => armFailpoint('projection.readPriorRows', 'EIO');
    const readsWork = () => armFailpoint('projection.readPriorRows', null);
    readsFail();
    try {
      // New keys: the table's keys (read when the pass opened) say no row, nothing is read.
      const fresh = await states.catchUp(await ingest('keys-new', [registerCharger('KEYS-NEW-1', 'keys-new-1'), registerCharger('KEYS-NEW-2', 'keys-new-2')]));
      expect(fresh.folded).toBe(1);
      await fresh.landed;
      // A key this pass folded (evicted from its cache since) is not among the keys read at its start: it must be read.
      await expect(states.catchUp(await ingest('keys-evicted', [changeStatus('KEYS-NEW-1', 'inuse', 'keys-evicted-1')]))).rejects.toThrow(/EIO/);
    } finally {
      readsWork();
    }
    await (await states.catchUp((await readCommittedHead(layout))!)).landed;
    await states.tableKeysRead();
    readsFail();
    try {
      // A key in the table's files when the pass opened (PASS-1, in a file whose stats bound it) must be read.
      await expect(states.catchUp(await ingest('keys-old', [changeStatus('PASS-1', 'inuse', 'keys-old-1')]))).rejects.toThrow(/EIO/);
    } finally {
      readsWork();
    }
    await (await states.catchUp((await readCommittedHead(layout))!)).landed;
    // Each row evolved from its earlier row (location kept from registration), not started anew.
    const rows = (await new DeltaTableReader(layout.tableDir(job.output)).rows()).filter((r) => ['PASS-1', 'KEYS-NEW-1', 'KEYS-NEW-2'].includes(String(r.supercharger_serial)));
    expect(rows.map((r) => `${r.supercharger_serial} ${r.status} ${r.location_name}`).sort()).toEqual(['KEYS-NEW-1 inuse Site KEYS-NEW-1', 'KEYS-NEW-2 notinuse Site KEYS-NEW-2', 'PASS-1 inuse Site PASS-1']);
  });

  it('tells a state job\'s batch from the rows its projection evolved, before reading `out` back; typed as the views type them, they are the committed rows', async () => {
    const job = config.jobs.find((j) => j.name === 'superchargers')!;
    const states = liveJob('superchargers');
    await (await states.catchUp((await readCommittedHead(layout))!)).landed;
    const start = await tableVersion(job.name);
    // Odd doubles, a status change (timestamps of two commands), a key touched twice in one batch.
    const register = (serial: string, lat: number, long: number) => ({ ...(registerCharger(serial, `told-${serial}`) as { command: object }), command: { supercharger_serial: serial, location_name: `Told "${serial}" \u00e9/`, supercharger_type: 'V4', lat, long } });
    const commands = [register('TOLD-1', 0.1, -179.999999), register('TOLD-2', 45, 1e-7), changeStatus('TOLD-1', 'inuse', 'told-st-1')];
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'told.ndjson'), commands)]);
    expect(await (await states.catchUp((await readCommittedHead(layout))!)).landed).toBe(start + 1);
    const steps = told.filter((c) => c.job === job.name && c.toVersion === start + 1);
    expect(steps).toHaveLength(1);
    const { change } = steps[0];
    expect(change.replaced.map((k) => JSON.parse(k).supercharger_serial).sort()).toEqual(['TOLD-1', 'TOLD-2']);
    // The rows as evolved in JS (what `out` was loaded from), not DuckDB's to_json of `out`: its timestamps read "2026-01-01 00:00:00+00".
    for (const added of change.added) expect(JSON.parse(added.row).registered_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // Typed the way the serving views type them (json_transform with the table's column types), every column equals the committed row.
    const spec = JSON.stringify(Object.fromEntries(job.definition.columns.map((c) => [c.name, c.type])));
    const duck = await Duck.open(':memory:');
    let typed: Record<string, unknown>[];
    try {
      await duck.run("SET TimeZone = 'UTC'");
      const rows = change.added.map((a) => `SELECT unnest(json_transform(${sqlString(a.row)}, ${sqlString(spec)}))`).join(' UNION ALL ');
      typed = await duck.rows(`SELECT supercharger_serial, location_name, supercharger_type, lat, long, status, epoch_us(registered_at) AS registered_at, epoch_us(status_changed_at) AS status_changed_at, version FROM (${rows})`);
    } finally {
      duck.close();
    }
    const micros = (iso: unknown) => (iso === null ? null : BigInt(Date.parse(String(iso))) * 1000n + BigInt(/\.\d{3}(\d{3})Z$/.exec(String(iso))?.[1] ?? 0));
    const canonical = (r: Record<string, unknown>) => JSON.stringify([r.supercharger_serial, r.location_name, r.supercharger_type, Number(r.lat), Number(r.long), r.status, String(r.registered_at), String(r.status_changed_at), Number(r.version)]);
    const table = (await new DeltaTableReader(layout.tableDir(job.output)).rows()).filter((r) => String(r.supercharger_serial).startsWith('TOLD-'));
    expect(table).toHaveLength(2);
    expect(typed.map(canonical).sort()).toEqual(table.map((r) => canonical({ ...r, registered_at: micros(r.registered_at), status_changed_at: micros(r.status_changed_at) })).sort());
  });
});
