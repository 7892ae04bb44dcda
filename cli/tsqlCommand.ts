import { Option, type Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { redact } from '../lake/redact.js';
import { SQL_DIR } from '../views/viewsDatabase.js';

/**
 * The T-SQL scripts of sql/tsql/ in the order a database needs them. Synapse serverless reads the
 * lake itself (a data source, then one OPENROWSET view per table in read_models); a Fabric
 * lakehouse gets read_models from a schema shortcut, so it needs only the analysts' views.
 */
export const TSQL_SCRIPTS = {
  synapse: ['synapse/setup.sql', 'synapse/read_models.sql', 'commands.sql', 'orders.sql', 'superchargers.sql'],
  fabric: ['commands.sql', 'orders.sql', 'superchargers.sql'],
} as const;

export type TsqlEngine = keyof typeof TSQL_SCRIPTS;

/** The sqlcmd scripting variable setup.sql names the lake with, set once there. */
const LAKE_URL_VARIABLE = '$(lake_url)';

/** The scripts for an engine as one text, with the lake's URL filled in where Synapse needs it. */
export function tsqlScript(engine: TsqlEngine, lakeUrl?: string): string {
  const url = engine === 'synapse' ? synapseLakeUrl(lakeUrl) : undefined;
  return TSQL_SCRIPTS[engine]
    .map((file) => {
      const text = fs.readFileSync(path.join(SQL_DIR, 'tsql', file), 'utf8');
      return `-- ==== sql/tsql/${file} ====\n${url === undefined ? text : text.replaceAll(LAKE_URL_VARIABLE, url)}`;
    })
    .join('\n');
}

/**
 * The lake's root as a Synapse data source LOCATION: an https:// or abfss:// URL (the forms
 * OPENROWSET takes for ADLS Gen2), without a trailing slash. It lands inside a SQL string literal,
 * so quotes are refused, and so is a query string: a SAS token belongs in a credential.
 */
export function synapseLakeUrl(url: string | undefined): string {
  const example = 'https://<account>.dfs.core.windows.net/<filesystem>/<folder>';
  if (!url) throw new Error(`a Synapse serverless pool reads the lake from ADLS Gen2: give its URL with --lake-url ${example}`);
  if (!/^(https|abfss):\/\/[^/\s'"?#]+(\/[^\s'"?#]*)?$/i.test(url)) {
    throw new Error(`--lake-url ${redact(url)}: expected the lake's https:// or abfss:// URL, e.g. ${example}, with no quotes, spaces or query string (credentials go in a database scoped credential)`);
  }
  return url.replace(/\/+$/, '');
}

/** `eventlake tsql`: prints the scripts; the lake URL defaults to --lake when that is a URL. */
export function registerTsqlCommand(program: Command): void {
  program
    .command('tsql')
    .description('print the T-SQL views for Synapse serverless SQL or the Fabric SQL analytics endpoint (docs/analytics-engines.md)')
    .addOption(new Option('--engine <engine>', 'where the views go').choices(Object.keys(TSQL_SCRIPTS)).default('synapse'))
    .option('--lake-url <url>', "the lake's root on ADLS Gen2 for Synapse (default: --lake when it is a URL)")
    .action((options: { engine: TsqlEngine; lakeUrl?: string }) => {
      const lake = program.opts<{ lake?: string }>().lake;
      const lakeUrl = options.lakeUrl ?? (lake && /^[a-z]+:\/\//i.test(lake) ? lake : undefined);
      process.stdout.write(tsqlScript(options.engine, lakeUrl));
    });
}
