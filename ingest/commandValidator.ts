import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { CommandHandler } from '../domains/domain.js';
import type { DomainRegistry } from '../domains/registry.js';
import { isIsoDateTime, LEAP_SECOND_RULE, STORABLE_TIME_FORMATS } from './businessTime.js';
import type { CommandInput, Rejection } from './envelope.js';
import { firstUnstorable } from './storableValue.js';

export { isIsoDateTime } from './businessTime.js';

// ajv-formats ships CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ENVELOPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['command_name', 'received', 'command'],
  properties: {
    command_id: { type: 'string', minLength: 1, maxLength: 200 },
    command_name: { type: 'string', minLength: 1, maxLength: 200 },
    received: { type: 'string', format: 'iso-date-time' },
    command: { type: 'object' },
    metadata: { type: 'object' },
    correlation_id: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

export type Validated = { ok: true; input: CommandInput; handler: CommandHandler } | { ok: false; rejection: Rejection };

/**
 * JSON Schema validation of a command: first the envelope, then the command name, then the
 * payload against its command's schema. Schemas are compiled once (ajv generates code).
 */
export class CommandValidator {
  private readonly envelope: ValidateFunction;
  private readonly payloads = new Map<string, ValidateFunction>();

  constructor(
    private readonly registry: DomainRegistry,
    private readonly maxDepth = 32,
  ) {
    // verbose: a failed format check carries the value, to tell a leap second from other mistakes.
    const ajv = new Ajv({ allErrors: false, strict: true, verbose: true });
    addFormats(ajv);
    for (const [name, validate] of Object.entries(STORABLE_TIME_FORMATS)) ajv.addFormat(name, { type: 'string', validate });
    this.envelope = ajv.compile(ENVELOPE_SCHEMA);
    for (const domain of registry.domains) {
      for (const handler of domain.commands) this.payloads.set(handler.commandName, ajv.compile(handler.schema));
    }
  }

  validate(value: unknown): Validated {
    if (!this.envelope(value)) return { ok: false, rejection: schemaRejection(this.envelope.errors, '') };
    const input = value as CommandInput;
    // Payloads have closed schemas; metadata is free-form, so bound its depth (it is serialized
    // into every event, and a recursive serializer must not meet a 100,000-level object).
    if (input.metadata !== undefined && nestedDeeperThan(input.metadata, this.maxDepth)) {
      return { ok: false, rejection: { code: 'schema', message: `metadata: nested deeper than ${this.maxDepth} levels`, path: '/metadata' } };
    }
    // Anywhere in the command (ids, payload, metadata): only what every sink stores as sent.
    const unstorable = firstUnstorable(input);
    if (unstorable) return { ok: false, rejection: { code: 'schema', message: `${fieldName(unstorable.path)}: ${unstorable.message}`, path: unstorable.path } };
    const handler = this.registry.command(input.command_name);
    const payload = this.payloads.get(input.command_name);
    if (!handler || !payload) {
      return { ok: false, rejection: { code: 'unknown_command', message: `unknown command_name "${input.command_name}"`, path: '/command_name' } };
    }
    if (!payload(input.command)) return { ok: false, rejection: schemaRejection(payload.errors, '/command') };
    return { ok: true, input, handler };
  }
}

/** One readable sentence naming the field and the rule it broke. */
function schemaRejection(errors: ErrorObject[] | null | undefined, prefix: string): Rejection {
  const error = errors?.[0];
  if (!error) return { code: 'schema', message: 'invalid command' };
  let path = `${prefix}${error.instancePath}`;
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'required') {
    path = `${path}/${(error.params as { missingProperty: string }).missingProperty}`;
    message = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    path = `${path}/${(error.params as { additionalProperty: string }).additionalProperty}`;
    message = 'is not an allowed field';
  } else if (error.keyword === 'enum') {
    message = `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  if (error.keyword === 'format' && isLeapSecondError(error)) message = LEAP_SECOND_RULE;
  return { code: 'schema', message: `${fieldName(path)}: ${message}`, path: path || '/' };
}

/** A JSON pointer in the dotted form messages use ("command.items.0.sku"). */
function fieldName(path: string): string {
  return path === '' || path === '/' ? 'command' : path.slice(1).replaceAll('/', '.');
}

/** A time-format failure caused only by a leap second (it would pass with second 59). */
function isLeapSecondError(error: ErrorObject): boolean {
  const value = error.data;
  const format = (error.params as { format?: string }).format;
  if (typeof value !== 'string' || !format || !STORABLE_TIME_FORMATS[format]) return false;
  const asSecond59 = value.replace(/(^|[Tt\s])(\d\d:\d\d):60(?!\d)/, '$1$2:59');
  return asSecond59 !== value && STORABLE_TIME_FORMATS[format](asSecond59);
}

/** Whether `value` has objects or arrays nested more than `max` levels (iterative: no stack risk). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(current)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
