/**
 * Secrets never reach a log line or an error message. Connection strings and URLs are redacted
 * by shape (account keys, SAS signatures, shared access keys, bearer tokens), and any known
 * secret value given by the caller is redacted wherever it appears.
 */
const PATTERNS: RegExp[] = [
  /((?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*)[^;]+/gi,
  /([?&]sig=)[^&\s"']+/gi,
  /(SharedKey(?:Lite)? [^:\s]+:)[A-Za-z0-9+/=]+/g,
  /(Bearer )[A-Za-z0-9\-._~+/]+=*/g,
  /(SharedAccessSignature sr=[^\s&]*&sig=)[^&\s]+/g,
];

export const REDACTED = '<redacted>';

export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let result = text;
  for (const secret of secrets) {
    // Short values would redact ordinary words; real keys and tokens are long.
    if (secret && secret.length >= 8) result = result.split(secret).join(REDACTED);
  }
  for (const pattern of PATTERNS) result = result.replace(pattern, `$1${REDACTED}`);
  return result;
}

/** An error whose message (and cause chain's messages) carry no secret, for logs and rethrows. */
export function redactedError(error: unknown, secrets: readonly (string | undefined)[] = []): Error {
  const message = error instanceof Error ? error.message : String(error);
  const clean = new Error(redact(message, secrets));
  const code = (error as { code?: unknown } | null)?.code;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (code !== undefined) Object.assign(clean, { code });
  if (statusCode !== undefined) Object.assign(clean, { statusCode });
  return clean;
}
