import { parentPort, workerData } from 'node:worker_threads';
import { loadDomains } from '../domains/loadDomains.js';
import { BufferedDecisionLog } from './bufferedDecisionLog.js';
import { CommandDecider } from './commandDecider.js';
import { ownerOf } from './commandRouting.js';
import { commandIdOf } from './commandTriage.js';
import { WriteModel } from './writeModel.js';
import type { DeciderBatch, DeciderInit, DeciderReply, DecidedBatch } from './deciderProtocol.js';

/*
 * A decider thread: owns the aggregates of some log partitions (their states, their streams'
 * sequences) and decides the commands routed to it, in the order it receives them, which is
 * their arrival order. It writes nothing: its records go back to the ingester's thread, which
 * stages them in arrival order and commits.
 */

const init = workerData as DeciderInit;
const registry = await loadDomains(init.domains.names, init.domains.configDir);
const model = new WriteModel(registry);
for (const [key, version, state] of init.aggregates) model.restoreAggregate(key, version, state);
const log = new BufferedDecisionLog(init.nextSequences);
const decider = new CommandDecider(registry, model, init.partitions, log, init.maxDepth);
const port = parentPort!;

port.on('message', (message: DeciderBatch | { close: true }) => {
  if ('close' in message) {
    // Every aggregate it owns, changed or not: tracking changes cost 6% of a decider's time (a
    // "type|id" key per command), handing all back costs one clone at the end.
    port.postMessage({ closed: true, aggregates: [...model.aggregates()] } satisfies DeciderReply);
    return;
  }
  const reply = decideBatch(message);
  // The record buffers move to the ingester's thread without a copy.
  const { decided } = reply;
  const arrays = [decided.records, decided.recordEnds, decided.sequences, decided.rejected, decided.eventCounts, ...decided.events.map((e) => e.bytes)];
  port.postMessage(reply, arrays.map((array) => array.buffer as ArrayBuffer));
});

function decideBatch(batch: DeciderBatch): { batch: number; decided: DecidedBatch } {
  const errors: DecidedBatch['errors'] = [];
  for (let i = 0; i < batch.texts.length; i++) {
    log.setCommandSequence(batch.sequences[i]);
    // The ingester's thread parsed the line and checked its id already (same functions).
    const value = JSON.parse(batch.texts[i]) as unknown;
    const source = `${batch.sourcePrefix}${batch.lineNumbers[i]}`;
    // Routed by a scan (commandRouting.ts): the aggregate must be this thread's, or its order is lost.
    if (ownerOf(registry, value, init.partitions, init.deciders) !== init.index) {
      throw new Error(`decider ${init.index} was sent ${source}, whose aggregate is another decider's: the routing scan and the domain's aggregateId disagree`);
    }
    const id = commandIdOf(value);
    const outcome = decider.decideNew(value, id.ok ? id.commandId : null, source);
    if (outcome.status === 'rejected') errors.push({ index: i, commandId: outcome.commandId, code: outcome.code, message: outcome.message });
  }
  const records = log.take();
  return { batch: batch.batch, decided: { ...records, errors } };
}
