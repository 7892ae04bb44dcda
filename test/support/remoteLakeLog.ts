import type { DfsServer } from '../servers/dfsServer.js';

/**
 * A lake log on the DFS test server, read straight from the server's store (not through the
 * product's reader): the head (a JSON file on a remote lake) and every segment of a stream,
 * whole. A stream is consistent when its last segment ends exactly at the head's offset.
 */
export function remoteLog(dfs: DfsServer, filesystem: string, directory: string) {
  const paths = dfs.store.fileSystem(filesystem).paths;
  const text = (key: string) => paths.get(key)?.data.toString('utf8') ?? null;
  const head = () => {
    const json = text(`${directory}/log/HEAD`);
    return json ? (JSON.parse(json) as { commit: number; streams: Record<string, { sequence: number; segment: number; offset: number }> }) : null;
  };
  const segments = (stream: string) => [...paths.keys()]
    .filter((key) => key.startsWith(`${directory}/log/${stream}/`) && key.endsWith('.ndjson'))
    .sort();
  return {
    head,
    /** Every record of a stream's segments, in order. */
    records<T = Record<string, unknown>>(stream: string): T[] {
      return segments(stream).flatMap((key) => text(key)!.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T));
    },
    /** Bytes in the stream's last segment: equal to the head's offset when nothing uncommitted is left. */
    lastSegmentBytes(stream: string): number {
      const last = segments(stream).pop();
      return last ? paths.get(last)!.data.length : 0;
    },
  };
}
