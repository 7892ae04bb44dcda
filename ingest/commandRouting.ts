import type { DomainRegistry } from '../domains/registry.js';
import { partitionOf } from '../lake/log/logMeta.js';
import { aggregateFieldOf } from './aggregateField.js';
import type { CommandInput } from './envelope.js';
import { JsonMemberScan, OBJECT } from './jsonMemberScan.js';

/**
 * The decider of a parsed command: the one owning its aggregate's partition (partition p belongs
 * to decider p mod n); decider 0 for a payload too broken to tell (it is refused wherever it goes).
 * The pool routes by it and each decider thread checks what it is sent against it.
 */
export function ownerOf(registry: DomainRegistry, value: unknown, partitions: number, deciders: number): number {
  try {
    const input = value as CommandInput;
    const aggregateId = registry.command(input.command_name)?.aggregateId(input.command);
    return typeof aggregateId === 'string' ? partitionOf(aggregateId, partitions) % deciders : 0;
  } catch {
    return 0;
  }
}

const COMMAND_ID = 0;
const COMMAND_NAME = 1;
const COMMAND = 2;

/**
 * Routes a command line without parsing it: a validating scan (JsonMemberScan) finds its
 * command id, its command name and, in its payload, the field that names its aggregate
 * (aggregateFieldOf). What `route` settles is exactly what JSON.parse + commandIdOf + ownerOf
 * would; a line it cannot settle (not JSON, an id that is no valid Unicode, an unknown command,
 * a command without a plain aggregate field, escapes in a top-level key) is for the caller to
 * parse.
 */
export class CommandRouter {
  private readonly envelope = new JsonMemberScan(['command_id', 'command_name', 'command']);
  /** Per command name: the scan of its payload's aggregate field (null: it has none). */
  private readonly payloads = new Map<string, JsonMemberScan | null>();
  /** Set by a successful `route`: the command's id (null: none) and its decider. */
  commandId: string | null = null;
  owner = 0;

  constructor(
    private readonly registry: DomainRegistry,
    private readonly partitions: number,
    private readonly deciders: number,
  ) {
    for (const domain of registry.domains) {
      for (const handler of domain.commands) {
        const field = aggregateFieldOf(handler);
        this.payloads.set(handler.commandName, field === null ? null : new JsonMemberScan([field]));
      }
    }
  }

  /** True: `commandId` and `owner` are the line's. False: parse the line to route it. */
  route(text: string): boolean {
    const envelope = this.envelope;
    if (!envelope.scan(text)) return false;
    const commandId = envelope.stringOf(text, COMMAND_ID);
    if (commandId !== null && !commandId.isWellFormed()) return false;
    const name = envelope.stringOf(text, COMMAND_NAME);
    const payload = name === null ? undefined : this.payloads.get(name);
    if (!payload || envelope.kinds[COMMAND] !== OBJECT) return false;
    // The payload is a valid object (the envelope's scan checked it): scanned again for one field.
    if (!payload.scan(text, envelope.starts[COMMAND], envelope.ends[COMMAND])) return false;
    const aggregateId = payload.stringOf(text, 0);
    if (aggregateId === null) return false;
    this.commandId = commandId;
    this.owner = partitionOf(aggregateId, this.partitions) % this.deciders;
    return true;
  }
}
