import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file named by the log: a URI (RFC 2396), relative to the table root or absolute. Only local
 * files are read here; an absolute URI of another scheme is refused rather than guessed at.
 */
export function resolveTablePath(tableDir: string, uri: string): string {
  if (/^file:/i.test(uri)) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) throw new Error(`Delta table ${tableDir}: cannot read "${uri}" (only local files and file: URIs)`);
  const relative = decodeURIComponent(uri);
  if (path.isAbsolute(relative)) return relative;
  const resolved = path.resolve(tableDir, relative);
  // A relative path in the log never leaves the table: a copy of the folder must read only itself.
  if (!resolved.startsWith(path.resolve(tableDir) + path.sep)) throw new Error(`Delta table ${tableDir}: path "${uri}" leaves the table folder`);
  return resolved;
}
