/**
 * The CLI's output. A reader that stops early (`eventlake query ... | head`) closes the pipe: the
 * next write fails with EPIPE, emitted as an 'error' event that nothing handled, which killed the
 * process in the middle of its work (an ingest then left its writer lock behind). Output to a
 * closed pipe is dropped instead, and the command finishes and cleans up as usual.
 */
let closed = false;

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  closed = true;
});

/** Writes a line to stdout, unless its reader has gone. */
export function print(text: string): void {
  if (!closed) process.stdout.write(`${text}\n`);
}
