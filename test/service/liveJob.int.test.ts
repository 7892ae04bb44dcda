import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { acquireLock } from '../../lake/lock.js';
import { readCommittedHead } from '../../lake/log/committedHead.js';
import type { TableChange } from '../../projections/jobPass.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { LiveJob } from '../../service/liveJob.js';
import { eventlakeJson, REPO, tempDir, writeNdjson } from '../support/cli.js';
import { registerCharger } from '../support/server.js';

describe('a live job kept open between catch-ups', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  let config: EventlakeConfig;
  let layout: LakeLayout;
  const told: TableChange[] = [];
  const open: LiveJob[] = [];
  const liveJob = (name: string) => {
    const live = new LiveJob(layout, config.jobs.find((j) => j.name === name)!, config.partitions, (c) => told.push(c), config.memory);
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
    const caughtUp = await superchargers.catchUp(head);
    expect(caughtUp).toMatchObject({ commits: 1, deferred: false, applied: 2 });
    const change = told.find((c) => c.job === 'superchargers')!;
    expect(change.toVersion).toBe(change.fromVersion + 1);
    expect(change.change.added.map((a) => JSON.parse(a.key!).supercharger_serial).sort()).toEqual(['PASS-1', 'PASS-2']);
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
});
