import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import type { CommandRecord } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { armFailpoint } from '../../lake/failpoints.js';
import { LakeLayout } from '../../lake/layout.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { createService } from '../../service/server.js';
import { SERVICE_DEFAULTS } from '../../service/serviceConfig.js';
import { tempDir } from '../support/cli.js';
import { readLogStream } from '../support/lakeLog.js';
import { get, post, registerCharger, waitFor } from '../support/server.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);

/** A 3 MiB tmpfs, so the disk really fills; null where mounting is not allowed. */
function smallDisk(): string | null {
  const dir = tempDir('eventlake-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return null;
  }
}

function commandLog(layout: LakeLayout): CommandRecord[] {
  return readLogStream<CommandRecord>(layout.root, 'commands');
}

/**
 * Ingests in groups until a commit fails; returns the ids acknowledged (their commit resolved)
 * and the ids decided but never acknowledged.
 */
async function ingestUntilFailure(ingester: Ingester, commands: { command_id?: string }[]) {
  const acknowledged: string[] = [];
  for (let i = 0; i < commands.length; i += 200) {
    const group = commands.slice(i, i + 200);
    group.forEach((c) => ingester.decide(c, 'test'));
    try {
      await ingester.commit();
    } catch (error) {
      return { acknowledged, failedAt: i, error: error as Error };
    }
    acknowledged.push(...group.map((c) => c.command_id!));
  }
  return { acknowledged, failedAt: -1, error: null };
}

async function expectRecoveryAfter(layout: LakeLayout, ingester: Ingester, commands: { command_id?: string }[], fix: () => void) {
  const { acknowledged, failedAt, error } = await ingestUntilFailure(ingester, commands);
  expect(error?.message).toMatch(/lake log write failed \((ENOSPC|EROFS)\)/);
  expect(() => ingester.decide(commands[0], 'test')).toThrow(/stopped after a write failure/);
  fix();
  await ingester.recover();
  // Replaying everything from the failed group on: acknowledged ones are duplicates, the rest new.
  const outcomes = commands.slice(failedAt).map((c) => ingester.decide(c, 'replay').status);
  await ingester.commit();
  expect(outcomes.every((s) => s !== 'duplicate')).toBe(true);
  await ingester.close();
  const ids = commandLog(layout).map((r) => r.commandId);
  expect(new Set(ids).size).toBe(ids.length); // nothing doubled
  for (const id of acknowledged) expect(ids).toContain(id); // nothing acknowledged lost
  expect(ids.length).toBe(commands.length);
}

/** Fills the disk to the last byte (files in a folder, so freeing it is one rm). */
function fillDisk(disk: string): string {
  const folder = path.join(disk, 'filler');
  fs.mkdirSync(folder, { recursive: true });
  for (const size of [256 * 1024, 4096, 1]) {
    for (let i = 0; ; i++) {
      try {
        fs.writeFileSync(path.join(folder, `${size}-${i}`), Buffer.alloc(size));
      } catch {
        break;
      }
    }
  }
  return folder;
}

const mounts: string[] = [];
afterAll(() => {
  for (const dir of mounts) execFileSync('umount', ['-l', dir]);
});

describe('a full disk or a failing write', () => {
  const disk = smallDisk();
  if (!disk) console.log('mounting a tmpfs is not allowed here: the real disk-full test is skipped, the injected-error test still runs');
  else mounts.push(disk);

  it.skipIf(!disk)('on a really full disk: refuses, acknowledges nothing not durable, resumes when space returns', async () => {
    const layout = new LakeLayout(path.join(disk!, 'lake'));
    const commands = [...sampleCommands({ count: 2000, seed: 3 })]; // about 1.5 MiB of log
    const ingester = await Ingester.open(layout, registry, { partitions: 2 });
    const filler = path.join(disk!, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024)); // leaves under 1 MiB for the log
    await expectRecoveryAfter(layout, ingester, commands, () => fs.rmSync(filler));
  });

  it.skipIf(!disk)('on a read-only lake: refuses to open with a clear error, works again once writable', async () => {
    const layout = new LakeLayout(path.join(disk!, 'ro-lake'));
    const commands = [...sampleCommands({ count: 50, seed: 5 })];
    await (await Ingester.open(layout, registry, { partitions: 1 })).close();
    execFileSync('mount', ['-o', 'remount,ro', disk!]);
    try {
      await expect(Ingester.open(layout, registry)).rejects.toThrow(/cannot write to the lake at .*ro-lake: EROFS/);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', disk!]);
    }
    const ingester = await Ingester.open(layout, registry);
    commands.forEach((c) => ingester.decide(c, 'test'));
    await ingester.close();
    expect(commandLog(layout).length).toBe(50);
  });

  it.skipIf(!disk)('serve on a really full disk: 503 + Retry-After while full, /healthz fails while it stays full, accepts again once space returns', async () => {
    const lake = path.join(disk!, 'served-lake');
    const service = await createService(await loadConfig({ lake }), new LakeLayout(lake), { ...SERVICE_DEFAULTS, port: 0, live: false, scheduler: false, unhealthyAfterMs: 200 });
    try {
      const url = await service.listen();
      const send = (id: string) => post(`${url}/commands`, registerCharger(`DF-${id}`, id));
      expect((await send('df-1')).status).toBe(202);
      const filler = fillDisk(disk!);

      const failed = await send('df-2');
      expect(failed.status).toBe(503);
      expect(failed.body.error.message).toMatch(/ENOSPC/);
      expect(Number(failed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Still full: reopening may succeed, the next commit fails again; it is one outage, and it lasts.
      const unhealthy = await waitFor(async () => {
        await send('df-2');
        const health = await get(`${url}/healthz`);
        return health.status === 503 ? health.body : undefined;
      }, '/healthz to fail while the disk stays full');
      expect(unhealthy).toMatchObject({ status: 'unhealthy', writer: { state: 'recovering' } });

      fs.rmSync(filler, { recursive: true });
      const accepted = await waitFor(async () => ((await send('df-2')).status === 202 ? true : undefined), 'a command to be accepted once space returns');
      expect(accepted).toBe(true);
      expect((await send('df-3')).status).toBe(202);
      expect((await get(`${url}/healthz`)).body).toEqual({ status: 'ok' });
      expect(commandLog(new LakeLayout(lake)).map((r) => r.commandId)).toEqual(['df-1', 'df-2', 'df-3']);
    } finally {
      await service.close();
    }
  });

  it('on an injected write error: the same promises', async () => {
    const layout = new LakeLayout(tempDir());
    const commands = [...sampleCommands({ count: 1200, seed: 4 })];
    const ingester = await Ingester.open(layout, registry, { partitions: 2 });
    let groups = 0;
    const original = ingester.commit.bind(ingester);
    ingester.commit = async () => {
      if (++groups === 3) armFailpoint('log.append', 'EROFS');
      return original();
    };
    await expectRecoveryAfter(layout, ingester, commands, () => armFailpoint('log.append', null));
  });
});
