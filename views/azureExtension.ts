import { sqlString, type Duck } from '../lake/duckdb.js';
import { redact } from '../lake/redact.js';
import { adlsCredentials, parseLakeLocation, type AdlsStorageConfig, type LakeStorageConfig } from '../lake/storage/openLakeStorage.js';

/**
 * Views over a lake in ADLS Gen2, read by DuckDB itself through its azure extension (`"views":
 * {"remote": "azure"}`), instead of over local copies of the committed files (`"cache"`, the
 * default). DuckDB downloads the extension from its repository on first use, so this mode needs
 * the internet once; the cache mode works offline and is faster for repeated queries. The secret
 * DuckDB uses is made from the same credentials as the lake's (config, else EVENTLAKE_ADLS_*
 * variables, else DefaultAzureCredential's chain), per session: none is stored in views.duckdb.
 */
export type RemoteViews = 'cache' | 'azure';

/** Loads the extension and creates the session's secret; a clear error when it cannot. */
export async function readLakeThroughAzureExtension(duck: Duck, lake: LakeStorageConfig, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const secret = azureSecretSql(lake, env);
  try {
    await duck.run('INSTALL azure');
    await duck.run('LOAD azure');
  } catch (error) {
    throw new Error(
      `views over the lake in ADLS through DuckDB's azure extension: the extension could not be installed or loaded (${(error as Error).message.split('\n')[0]}). ` +
        'DuckDB downloads it from its extension repository on first use; offline, set "views": {"remote": "cache"} to query local copies of the committed files instead',
    );
  }
  try {
    await duck.run(secret.sql);
  } catch (error) {
    throw new Error(`views over the lake in ADLS: DuckDB refused the azure secret: ${redact((error as Error).message, secret.secrets)}`);
  }
}

/** The CREATE SECRET statement for the lake's account, and the secret values in it (to keep out of errors). */
export function azureSecretSql(lake: LakeStorageConfig, env: NodeJS.ProcessEnv): { sql: string; secrets: string[] } {
  const adls = adlsConfig(lake);
  const account = adls.accountName ?? new URL(adls.accountUrl ?? 'https://unknown').hostname.split('.')[0];
  const { connectionString, accountKey, sasToken } = adlsCredentials(adls, env);
  const create = (options: string) => `CREATE OR REPLACE SECRET eventlake_lake (TYPE azure, ${options})`;
  if (connectionString) return { sql: create(`CONNECTION_STRING ${sqlString(connectionString)}`), secrets: [connectionString] };
  if (accountKey) {
    const built = `DefaultEndpointsProtocol=https;AccountName=${account};AccountKey=${accountKey};EndpointSuffix=core.windows.net`;
    return { sql: create(`CONNECTION_STRING ${sqlString(built)}`), secrets: [accountKey, built] };
  }
  if (sasToken) {
    const built = `BlobEndpoint=https://${account}.blob.core.windows.net;SharedAccessSignature=${sasToken.replace(/^\?/, '')}`;
    return { sql: create(`CONNECTION_STRING ${sqlString(built)}`), secrets: [sasToken, built] };
  }
  return { sql: create(`PROVIDER credential_chain, ACCOUNT_NAME ${sqlString(account)}`), secrets: [] };
}

function adlsConfig(lake: LakeStorageConfig): AdlsStorageConfig {
  const resolved = typeof lake === 'string' ? parseLakeLocation(lake) : lake;
  if (resolved.type !== 'adls') throw new Error('"views": {"remote": "azure"} is for a lake in ADLS Gen2; this lake is a local folder');
  return resolved;
}
