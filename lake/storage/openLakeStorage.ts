import { redact } from '../redact.js';
import { AdlsError } from './adlsErrors.js';
import type { LakeStorage } from './lakeStorage.js';
import { LocalStorage } from './localStorage.js';

/** The lake on ADLS Gen2. Credentials: the first of connectionString, accountKey, sasToken; else DefaultAzureCredential. */
export interface AdlsStorageConfig {
  type: 'adls';
  /** `https://<account>.dfs.core.windows.net` (or any endpoint, e.g. a test server). Optional with a connection string. */
  accountUrl?: string;
  filesystem: string;
  /** Folder inside the filesystem that is the lake root. */
  directory?: string;
  connectionString?: string;
  /** Shared key of the account (named by accountName, else by the account URL). */
  accountKey?: string;
  accountName?: string;
  /** A SAS token (`sv=...&sig=...`) appended to the account URL. */
  sasToken?: string;
  /** Where local copies for DuckDB go (default under the OS temp folder). */
  cacheDir?: string;
  /** Create the filesystem when it does not exist (needs rights on the account). */
  createFilesystem?: boolean;
}

export interface LocalStorageConfig {
  type: 'local';
  path: string;
}

/** A folder path, an `abfss://fs@account.dfs.core.windows.net/dir` URL, or an object. */
export type LakeStorageConfig = string | LocalStorageConfig | AdlsStorageConfig;

/**
 * Environment fallbacks for credentials not in the config (so secrets stay out of config files):
 * EVENTLAKE_ADLS_CONNECTION_STRING, EVENTLAKE_ADLS_ACCOUNT_KEY, EVENTLAKE_ADLS_SAS_TOKEN.
 * Without any of them, DefaultAzureCredential (managed identity, workload identity, az login...).
 */
export async function openLakeStorage(config: LakeStorageConfig, env: NodeJS.ProcessEnv = process.env, options: OpenOptions = {}): Promise<LakeStorage> {
  const resolved = typeof config === 'string' ? parseLakeLocation(config) : config;
  if (resolved.type === 'local') return new LocalStorage(resolved.path);
  if (resolved.type !== 'adls') throw new Error(`lake storage: unknown type ${JSON.stringify((resolved as { type: unknown }).type)} (local or adls)`);
  return openAdls(resolved, env, options.checkEndpoints ?? true);
}

export interface OpenOptions {
  /** Check at once that the account's blob and dfs endpoints answer (default true; false opens offline). */
  checkEndpoints?: boolean;
}

/** Plain paths are local folders; abfss:// and https://<account>.dfs.core.windows.net/... are ADLS Gen2. */
export function parseLakeLocation(location: string): LocalStorageConfig | AdlsStorageConfig {
  const abfss = /^abfss:\/\/([^@/]+)@([^/]+)(?:\/(.*))?$/i.exec(location);
  if (abfss) {
    const [, filesystem, host, directory] = abfss;
    if (!/\.dfs\.core\./i.test(host)) throw new Error(`lake ${location}: expected abfss://<filesystem>@<account>.dfs.core.windows.net/<folder>`);
    return { type: 'adls', accountUrl: `https://${host}`, filesystem, ...(directory ? { directory: directory.replace(/\/+$/, '') } : {}) };
  }
  if (/^abfs:\/\//i.test(location)) throw new Error(`lake ${redact(location)}: use abfss:// (TLS); abfs:// is not supported`);
  const https = /^https:\/\/([^/]+\.dfs\.core\.[^/]+)\/([^/?]+)(?:\/([^?]*))?$/i.exec(location);
  if (https) {
    const [, host, filesystem, directory] = https;
    return { type: 'adls', accountUrl: `https://${host}`, filesystem, ...(directory ? { directory: directory.replace(/\/+$/, '') } : {}) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new Error(`lake ${redact(location)}: unsupported URL; use a folder path or abfss://<filesystem>@<account>.dfs.core.windows.net/<folder>`);
  }
  return { type: 'local', path: location };
}

/** The lake's ADLS credentials: those in the config, else the EVENTLAKE_ADLS_* variables (none: DefaultAzureCredential). */
export function adlsCredentials(config: AdlsStorageConfig, env: NodeJS.ProcessEnv): Pick<AdlsStorageConfig, 'connectionString' | 'accountKey' | 'sasToken'> {
  if (config.connectionString || config.accountKey || config.sasToken) return config;
  return { connectionString: env.EVENTLAKE_ADLS_CONNECTION_STRING, accountKey: env.EVENTLAKE_ADLS_ACCOUNT_KEY, sasToken: env.EVENTLAKE_ADLS_SAS_TOKEN };
}

async function openAdls(config: AdlsStorageConfig, env: NodeJS.ProcessEnv, checkEndpoints: boolean): Promise<LakeStorage> {
  const { connectionString, accountKey, sasToken } = adlsCredentials(config, env);
  validate(config, !!connectionString);
  const secrets = [connectionString, accountKey, sasToken].filter((s): s is string => !!s);
  try {
    // Loaded on demand: a local lake never pays for the Azure SDKs.
    const { DataLakeServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-file-datalake');
    const { AdlsStorage } = await import('./adlsStorage.js');
    let service: InstanceType<typeof DataLakeServiceClient>;
    if (connectionString) {
      service = DataLakeServiceClient.fromConnectionString(connectionString);
    } else if (accountKey) {
      const accountName = config.accountName ?? accountNameOf(config.accountUrl!);
      service = new DataLakeServiceClient(config.accountUrl!, new StorageSharedKeyCredential(accountName, accountKey));
    } else if (sasToken) {
      service = new DataLakeServiceClient(`${config.accountUrl!.replace(/\/+$/, '')}?${sasToken.replace(/^\?/, '')}`);
    } else {
      const { DefaultAzureCredential } = await import('@azure/identity');
      service = new DataLakeServiceClient(config.accountUrl!, new DefaultAzureCredential());
    }
    const storage = new AdlsStorage({ service, filesystem: config.filesystem, directory: config.directory, cacheDir: config.cacheDir, secrets });
    if (config.createFilesystem) await storage.ensureFilesystem();
    if (checkEndpoints) await storage.checkEndpoints();
    return storage;
  } catch (error) {
    if (error instanceof AdlsError) throw error; // already names the lake and what failed, without secrets
    throw new Error(`lake storage ${config.filesystem} at ${redact(config.accountUrl ?? 'the connection string\'s account', secrets)}: ${redact((error as Error).message, secrets)}`);
  }
}

function validate(config: AdlsStorageConfig, hasConnectionString: boolean): void {
  if (!config.filesystem || !/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(config.filesystem)) {
    throw new Error(`lake storage: /filesystem must be 3-63 lowercase letters, digits or single hyphens, got ${JSON.stringify(config.filesystem)}`);
  }
  if (!config.accountUrl && !hasConnectionString) {
    throw new Error('lake storage: /accountUrl is required (https://<account>.dfs.core.windows.net) unless a connectionString is given');
  }
  if (config.accountUrl && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(config.accountUrl)) {
    throw new Error(`lake storage: /accountUrl must be an http(s) URL without query, got ${JSON.stringify(redact(config.accountUrl))}`);
  }
}

/** `https://<account>.dfs.core.windows.net`, or path-style `http://127.0.0.1:10000/<account>` (emulators). */
function accountNameOf(accountUrl: string): string {
  const url = new URL(accountUrl);
  const pathAccount = url.pathname.split('/').filter(Boolean)[0];
  if (/^[\d.]+$|^localhost$|^\[/.test(url.hostname) && pathAccount) return pathAccount;
  return url.hostname.split('.')[0];
}
