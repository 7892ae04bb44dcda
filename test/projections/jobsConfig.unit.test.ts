import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../projections/jobsConfig.js';
import { REPO, eventlake, tempDir } from '../support/cli.js';

function configFile(content: unknown): string {
  const file = path.join(tempDir(), 'jobs.config.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('jobs config', () => {
  it('the repository config lists a job for every read model of the example domains', async () => {
    const config = await loadConfig({ config: path.join(REPO, 'jobs.config.json') });
    expect(config.jobs.map((j) => j.projection).sort()).toEqual(['command_status', 'customers', 'daily_status_changes', 'order_status_history', 'orders', 'supercharger_status_history', 'superchargers']);
  });

  it.each([
    [{ jobs: [{ name: 'a', projection: 'superchargers', onError: 'explode' }] }, /\/jobs\/0\/onError must be equal to one of the allowed values \(halt, skip\)/],
    [{ jobs: [{ name: 'a', projection: 'nope' }] }, /\/jobs\/0\/projection "nope" is not defined/],
    [{ jobs: [{ projection: 'superchargers' }] }, /\/jobs\/0 must have required property 'name'/],
    [{ jobs: [{ name: 'a', projection: 'superchargers', colour: 'red' }] }, /\/jobs\/0\/colour must NOT have additional properties/],
    [{ jobs: [{ name: 'a', projection: 'superchargers' }, { name: 'a', projection: 'orders' }] }, /\/jobs\/1\/name "a" is used by an earlier job/],
    [{ jobs: [{ name: 'a', projection: 'superchargers', output: '../escape' }] }, /\/jobs\/0\/output must match pattern/],
    [{ domains: ['nonexistent'] }, /unknown domain "nonexistent"/],
    ['{ not json', /is not valid JSON/],
    [{ memory: 'plenty' }, /\/memory: "plenty" is not a size/],
    [{ memory: '16MB' }, /\/memory: 16MB is below the least a pass can work in/],
  ])('refuses a bad config with a message naming the field (%#)', async (content, message) => {
    await expect(loadConfig({ config: configFile(content) })).rejects.toThrow(message);
  });

  it('the memory budget is 768 MiB unless the config gives one, in bytes or with a unit', async () => {
    expect((await loadConfig({ config: configFile({}) })).memory).toBe(768 * 1024 ** 2);
    expect((await loadConfig({ config: configFile({ memory: '768MB' }) })).memory).toBe(768 * 1024 ** 2);
    expect((await loadConfig({ config: configFile({ memory: 500_000_000 }) })).memory).toBe(500_000_000);
  });

  it('without a config file every projection of the built-in domains becomes a job', async () => {
    const empty = tempDir();
    const config = await loadConfig({ cwd: empty });
    expect(config.lakeDir).toBe(path.join(empty, 'lake'));
    expect(config.file).toBeNull();
    expect(config.jobs.length).toBe(7);
  });

  it.each([
    [{ jobs: [{ name: 'a', projection: 'orders' }, { name: 'b', projection: 'orders', output: 'orders_2' }] }, /\/jobs\/1\/projection "orders" is used by an earlier job \(\/jobs\/0\) \(its views are built from one table\)/],
    [{ jobs: [{ name: 'a', projection: 'orders', schedule: 'every day' }] }, /\/jobs\/0\/schedule "every day" is not a cron expression/],
    [{ jobs: [{ name: 'a', projection: 'orders', schedule: '61 * * * *' }] }, /\/jobs\/0\/schedule "61 \* \* \* \*" is not a cron expression/],
    [{ domains: ['orders', 'orders'] }, /\/domains\/1 "orders": defines command RegisterCustomer, which domain orders already defines/],
  ])('checks the whole config when it loads: one job per projection, cron schedules, each definition once (%#)', async (content, message) => {
    const file = configFile(content);
    await expect(loadConfig({ config: file })).rejects.toThrow(message);
    await expect(loadConfig({ config: file })).rejects.toThrow(file);
  });

  it('a custom domain that redefines a command of another is refused, naming the config file and field', async () => {
    const file = configFile({ domains: ['superchargers', './clash.mjs'] });
    fs.writeFileSync(path.join(path.dirname(file), 'clash.mjs'), "export default { name: 'clash', aggregates: [], projections: [], commands: [{ commandName: 'RegisterSupercharger', aggregateType: 'supercharger', schema: { type: 'object' }, aggregateId: () => 'x', decide: () => [] }] };\n");
    await expect(loadConfig({ config: file })).rejects.toThrow(`${file}: /domains/1 "./clash.mjs": defines command RegisterSupercharger, which domain superchargers already defines`);
  });

  it('a domain module that cannot be loaded is named with the config file, the field and the path tried', async () => {
    const file = configFile({ domains: ['orders', './missing-domain.mjs'] });
    await expect(loadConfig({ config: file })).rejects.toThrow(`${file}: /domains/1 "./missing-domain.mjs": cannot load domain module ./missing-domain.mjs (${path.join(path.dirname(file), 'missing-domain.mjs')})`);
  });

  it('the CLI refuses a bad config and exits non-zero', async () => {
    const result = await eventlake(['--config', configFile({ jobs: [{ name: 'x', projection: 'superchargers', batchSize: 0 }] }), '--lake', tempDir(), 'status']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\/jobs\/0\/batchSize must be >= 1/);
  });
});
