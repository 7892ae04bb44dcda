import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeStatus, get, post, registerCharger, startServer, waitFor, waitReady, type RunningServer } from '../support/server.js';

/** POST /commands and GET /commands/:id over real HTTP against `eventlake serve`. */
describe('eventlake serve: commands', () => {
  let server: RunningServer;
  const commands = () => `${server.url}/commands`;
  const commandCount = async () => (await get(`${server.url}/status`)).body.log.streams.commands.sequence as number;

  beforeAll(async () => {
    server = await startServer({ args: ['--body-limit', '4096', '--max-batch', '5'] });
    await waitReady(server);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it('accepts one command with 202 and says where its event landed', async () => {
    const answer = await post(commands(), registerCharger('HTTP-1', 'http-1'));
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ status: 'accepted', commandId: 'http-1' });
    expect(answer.body.events).toHaveLength(1);
    const [event] = answer.body.events;
    expect(event).toMatchObject({ eventType: 'SuperchargerRegistered', aggregateId: 'HTTP-1', version: 1 });
    expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isInteger(event.partition) && event.sequence >= 1).toBe(true);
  });

  it('gives a command without an id one, and answers 202 for an all-accepted batch', async () => {
    const answer = await post(commands(), [registerCharger('HTTP-2'), changeStatus('HTTP-2', 'inuse')]);
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: 2, rejected: 0, duplicates: 0 });
    expect(answer.body.results.map((r: { events: { version: number }[] }) => r.events[0].version)).toEqual([1, 2]);
    expect(answer.body.results[0].commandId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a mixed batch with 200 and one result per command, in order', async () => {
    const answer = await post(commands(), [
      changeStatus('HTTP-1', 'serviced', 'mix-1'),
      changeStatus('HTTP-1', 'serviced', 'mix-2'), // no_change
      changeStatus('NOPE', 'inuse', 'mix-3'), // not_found
      { command_id: 'mix-4', command_name: 'RegisterSupercharger', received: '2026-03-01T00:00:00Z', command: { supercharger_serial: 'X', lat: 200 } },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1, rejected: 3, duplicates: 0 });
    expect(answer.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['accepted', 'no_change', 'not_found', 'schema']);
    expect(answer.body.results[1]).toMatchObject({ commandId: 'mix-2', message: expect.stringContaining('serviced'), path: '/command/status' });
    expect(answer.body.results[3].path).toMatch(/^\/command/);
  });

  it('answers 422 when every command is rejected', async () => {
    const answer = await post(commands(), changeStatus('NOPE', 'inuse', 'rejected-1'));
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ status: 'rejected', commandId: 'rejected-1', code: 'not_found' });
  });

  it('answers a repeated command id with its first outcome and writes nothing', async () => {
    const before = await commandCount();
    const again = await post(commands(), [registerCharger('HTTP-1', 'http-1'), changeStatus('NOPE', 'inuse', 'rejected-1')]);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, rejected: 0, duplicates: 2 });
    const [accepted, rejected] = again.body.results;
    expect(accepted).toMatchObject({ status: 'duplicate', commandId: 'http-1', first: { status: 'completed', commandName: 'RegisterSupercharger', aggregateId: 'HTTP-1' } });
    expect(accepted.first.eventIds).toHaveLength(1);
    expect(rejected).toMatchObject({ status: 'duplicate', first: { status: 'rejected', code: 'not_found' } });
    expect(await commandCount()).toBe(before);
  });

  it('tells what became of a command by id, and 404 for an unknown id', async () => {
    const found = await get(`${commands()}/mix-2`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ commandId: 'mix-2', status: 'rejected', code: 'no_change', source: 'http' });
    const completed = await get(`${commands()}/http-1`);
    expect(completed.body).toMatchObject({ status: 'completed', eventIds: [expect.any(String)] });
    const missing = await get(`${commands()}/never-sent`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('refuses malformed requests with 400, 413 and 415 and writes nothing', async () => {
    const before = await commandCount();
    const notJson = await post(commands(), '{"command_name": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
    for (const body of ['42', 'null', '"text"', '[]', '[{"command_name":"RegisterCustomer"}, 7]', '[[]]']) {
      const answer = await post(commands(), body);
      expect(answer.status, body).toBe(400);
      expect(answer.body.error.code, body).toBe('bad_request');
    }
    const tooLarge = await post(commands(), registerCharger(`BIG-${'x'.repeat(8000)}`));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.message).toContain('4096 bytes');
    const tooMany = await post(commands(), Array.from({ length: 6 }, (_, i) => registerCharger(`MANY-${i}`)));
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toMatchObject({ code: 'batch_too_large', message: expect.stringContaining('at most 5') });
    const wrongType = await post(commands(), JSON.stringify(registerCharger('TEXT-1')), { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error.code).toBe('unsupported_media_type');
    expect(await commandCount()).toBe(before);
  });

  it('is healthy and ready', async () => {
    expect((await get(`${server.url}/healthz`)).body).toEqual({ status: 'ok' });
    const ready = await get(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { ingester: true, views: true } });
  });

  it('reports ingest counters, jobs and uptime on /status', async () => {
    const { status, body } = await get(`${server.url}/status`);
    expect(status).toBe(200);
    expect(body.ingest).toMatchObject({ accepted: 4, rejected: 4, duplicates: 2, events: 4, rejectedByCode: { no_change: 1, not_found: 2, schema: 1 } });
    expect(body.service).toMatchObject({ ready: true, live: true, auth: false });
    expect(body.service.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(body.jobs.map((j: { job: string }) => j.job)).toContain('superchargers');
    expect(body.jobs[0]).toHaveProperty('lagEvents');
    expect(body.jobs[0]).toHaveProperty('lagSeconds');
    expect(body.recentRejections[0]).toMatchObject({ commandId: 'rejected-1', code: 'not_found' });
  });

  it('exposes Prometheus metrics that move with the commands', async () => {
    const scrape = async () => (await get<string>(`${server.url}/metrics`)).body;
    const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const before = await scrape();
    expect(before).toContain('# TYPE eventlake_ingest_duration_seconds histogram');
    for (const name of ['eventlake_projection_lag_events{job="superchargers"}', 'eventlake_projection_lag_seconds{job="superchargers"}', 'eventlake_projection_dead_letters{job="superchargers"}']) {
      expect(value(before, name), name).not.toBeNaN();
    }
    await post(commands(), [registerCharger('METRIC-1'), changeStatus('NOPE', 'inuse'), registerCharger('HTTP-1', 'http-1')]);
    const after = await scrape();
    expect(value(after, 'eventlake_commands_accepted_total')).toBe(value(before, 'eventlake_commands_accepted_total') + 1);
    expect(value(after, 'eventlake_commands_rejected_total{code="not_found"}')).toBe(value(before, 'eventlake_commands_rejected_total{code="not_found"}') + 1);
    expect(value(after, 'eventlake_commands_duplicate_total')).toBe(value(before, 'eventlake_commands_duplicate_total') + 1);
    expect(value(after, 'eventlake_ingest_duration_seconds_count')).toBe(value(before, 'eventlake_ingest_duration_seconds_count') + 1);
    // The live loop applies the new events moments later.
    await waitFor(async () => value(await scrape(), 'eventlake_projection_events_applied_total{job="superchargers"}') > 0 || undefined, 'events applied by the live jobs');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const answer = await get(`${server.url}/nowhere`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });
});
