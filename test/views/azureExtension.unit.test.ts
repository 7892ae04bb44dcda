/**
 * Views over ADLS through DuckDB's azure extension: the secret made from the lake's credentials,
 * and the error a user gets when the extension cannot be downloaded (this machine is offline; the
 * test points DuckDB at an unreachable extension repository so the outcome does not depend on it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Duck } from '../../lake/duckdb.js';
import { azureSecretSql, readLakeThroughAzureExtension } from '../../views/azureExtension.js';
import { tempDir } from '../support/cli.js';

const lake = 'abfss://lake@contoso.dfs.core.windows.net/eventlake';

describe("DuckDB's azure extension for views over ADLS", () => {
  test('the secret follows the lake credentials: connection string, account key, SAS, else the credential chain', () => {
    expect(azureSecretSql({ type: 'adls', filesystem: 'lake', connectionString: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k' }, {}).sql)
      .toBe("CREATE OR REPLACE SECRET eventlake_lake (TYPE azure, CONNECTION_STRING 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k')");
    const keyed = azureSecretSql(lake, { EVENTLAKE_ADLS_ACCOUNT_KEY: 'c2VjcmV0' });
    expect(keyed.sql).toContain("CONNECTION_STRING 'DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net'");
    expect(keyed.secrets).toContain('c2VjcmV0');
    expect(azureSecretSql(lake, { EVENTLAKE_ADLS_SAS_TOKEN: '?sv=1&sig=x' }).sql).toContain("'BlobEndpoint=https://contoso.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x'");
    expect(azureSecretSql(lake, {}).sql).toBe("CREATE OR REPLACE SECRET eventlake_lake (TYPE azure, PROVIDER credential_chain, ACCOUNT_NAME 'contoso')");
    expect(() => azureSecretSql('./data/lake', {})).toThrow(/for a lake in ADLS Gen2; this lake is a local folder/);
  });

  test('without the extension, building views says why and what to set instead', async () => {
    const extensions = tempDir('eventlake-ext-');
    const duck = await Duck.open(':memory:');
    try {
      await duck.run(`SET extension_directory = '${path.join(extensions, 'none')}'`);
      await duck.run("SET custom_extension_repository = 'http://127.0.0.1:9'");
      await expect(readLakeThroughAzureExtension(duck, lake, { EVENTLAKE_ADLS_ACCOUNT_KEY: 'c2VjcmV0' }))
        .rejects.toThrow(/DuckDB's azure extension: the extension could not be installed or loaded .*set "views": \{"remote": "cache"\}/);
    } finally {
      duck.close();
      fs.rmSync(extensions, { recursive: true, force: true });
    }
  });
});
