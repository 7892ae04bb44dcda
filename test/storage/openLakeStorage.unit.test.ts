/** Choosing a backend from config, and keeping secrets out of every message. */
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { redact } from '../../lake/redact.js';
import { LocalStorage } from '../../lake/storage/localStorage.js';
import { openLakeStorage, parseLakeLocation } from '../../lake/storage/openLakeStorage.js';
import { rejection } from '../support/rejection.js';

describe('openLakeStorage', () => {
  test('a plain path is a local folder', async () => {
    expect(parseLakeLocation('./data/lake')).toEqual({ type: 'local', path: './data/lake' });
    expect(await openLakeStorage('/tmp/some-lake')).toBeInstanceOf(LocalStorage);
    expect(await openLakeStorage({ type: 'local', path: '/tmp/other' })).toBeInstanceOf(LocalStorage);
  });

  test('abfss:// and https://<account>.dfs.core.windows.net/ URLs name a filesystem and a folder', () => {
    expect(parseLakeLocation('abfss://lake@contoso.dfs.core.windows.net/prod/events/')).toEqual({
      type: 'adls', accountUrl: 'https://contoso.dfs.core.windows.net', filesystem: 'lake', directory: 'prod/events',
    });
    expect(parseLakeLocation('abfss://lake@contoso.dfs.core.windows.net')).toEqual({
      type: 'adls', accountUrl: 'https://contoso.dfs.core.windows.net', filesystem: 'lake',
    });
    expect(parseLakeLocation('https://contoso.dfs.core.windows.net/lake/prod')).toEqual({
      type: 'adls', accountUrl: 'https://contoso.dfs.core.windows.net', filesystem: 'lake', directory: 'prod',
    });
    expect(() => parseLakeLocation('abfs://lake@contoso.dfs.core.windows.net/x')).toThrow(/use abfss:\/\//);
    expect(() => parseLakeLocation('abfss://lake@contoso.blob.core.windows.net/x')).toThrow(/dfs\.core\.windows\.net/);
    expect(() => parseLakeLocation('s3://bucket/lake')).toThrow(/unsupported URL/);
  });

  test('bad ADLS config is refused naming the field', async () => {
    await expect(openLakeStorage({ type: 'adls', accountUrl: 'https://contoso.dfs.core.windows.net', filesystem: 'Bad_Name' }))
      .rejects.toThrow(/\/filesystem must be 3-63 lowercase/);
    await expect(openLakeStorage({ type: 'adls', filesystem: 'lake' }, {})).rejects.toThrow(/\/accountUrl is required/);
  });

  test('a broken connection string is reported without its key', async () => {
    const key = 'c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=';
    const error = await rejection(openLakeStorage({ type: 'adls', filesystem: 'lake', connectionString: `AccountName=x;AccountKey=${key};Nonsense` }));
    expect(error).toBeInstanceOf(Error);
    expect(error.message).not.toContain(key);
  });

  test('credentials come from the environment when the config has none, and stay out of messages', async () => {
    const key = 'ZW52LWtleS10aGF0LW11c3Qtbm90LWxlYWs=';
    // Offline: opening a lake in ADLS otherwise checks its endpoints (adlsStorage.int.test.ts).
    const storage = await openLakeStorage('abfss://lake@contoso.dfs.core.windows.net/prod', { EVENTLAKE_ADLS_ACCOUNT_KEY: key }, { checkEndpoints: false });
    expect(storage.location).toBe('abfss://lake@contoso.dfs.core.windows.net/prod');
    expect(inspect(storage, { depth: 1 })).not.toContain(key);
  });
});

describe('redact', () => {
  test('removes keys, signatures and tokens by shape, and known secrets anywhere', () => {
    expect(redact('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc123/+=;EntityPath=hub'))
      .toBe('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=<redacted>;EntityPath=hub');
    expect(redact('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v+/==;EndpointSuffix=core.windows.net'))
      .toBe('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=<redacted>;EndpointSuffix=core.windows.net');
    expect(redact('GET https://a.dfs.core.windows.net/lake?sv=2024&sig=abc%2Fdef&se=x')).toBe('GET https://a.dfs.core.windows.net/lake?sv=2024&sig=<redacted>&se=x');
    expect(redact('Authorization: SharedKey acct:c2lnbmF0dXJl')).toBe('Authorization: SharedKey acct:<redacted>');
    expect(redact('Authorization: Bearer eyJ0eXAi.eyJhdWQi.sig-_')).toBe('Authorization: Bearer <redacted>');
    expect(redact('failed with supersecretvalue inside', ['supersecretvalue'])).toBe('failed with <redacted> inside');
  });
});

