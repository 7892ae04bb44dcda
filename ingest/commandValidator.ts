import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { CommandHandler } from '../domains/domain.js';
import type { DomainRegistry } from '../domains/registry.js';
import type { CommandInput, Rejection } from './envelope.js';

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
    const ajv = new Ajv({ allErrors: false, strict: true });
    addFormats(ajv);
    ajv.addFormat('iso-date-time', { type: 'string', validate: isIsoDateTime });
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
    const handler = this.registry.command(input.command_name);
    const payload = this.payloads.get(input.command_name);
    if (!handler || !payload) {
      return { ok: false, rejection: { code: 'unknown_command', message: `unknown command_name "${input.command_name}"`, path: '/command_name' } };
    }
    if (!payload(input.command)) return { ok: false, rejection: schemaRejection(payload.errors, '/command') };
    return { ok: true, input, handler };
  }
}

const fullIsoDateTime = (fullFormats['iso-date-time'] as { validate: (text: string) => boolean }).validate;
const CANONICAL_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * ajv-formats' iso-date-time, with a fast yes for what most clients send (toISOString's form):
 * its split, two regexes and number parsing were 3% of ingest. Anything else, and any canonical
 * string the fast check does not accept outright (Feb 29, a leap second), gets the full check.
 */
export function isIsoDateTime(text: string): boolean {
  return (CANONICAL_UTC.test(text) && plainlyValid(text)) || fullIsoDateTime(text);
}

function plainlyValid(canonical: string): boolean {
  const two = (at: number) => (canonical.charCodeAt(at) - 48) * 10 + canonical.charCodeAt(at + 1) - 48;
  const month = two(5);
  const day = two(8);
  return month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month] && !(month === 2 && day === 29) && two(11) <= 23 && two(14) <= 59 && two(17) <= 59;
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
  const where = path === '' ? 'command' : path.slice(1).replaceAll('/', '.');
  return { code: 'schema', message: `${where}: ${message}`, path: path || '/' };
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
