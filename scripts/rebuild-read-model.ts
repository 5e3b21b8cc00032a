/** `npm run projections:rebuild`: rebuilds the read model from the event log (stop the engine first). */
import { loadConfigOrExit } from '../src/config.js';
import { openEventStore } from '../src/eventstore/index.js';
import { rebuildReadModelInPlace } from '../src/projections/rebuildReadModel.js';

const config = loadConfigOrExit();
const store = openEventStore(config.eventStorePath);
let lastPrint = 0;
const result = await rebuildReadModelInPlace(store, config.readModelPath, {
  threads: config.rebuildThreads,
  onProgress(position, last) {
    if (Date.now() - lastPrint > 500 || position === last) {
      lastPrint = Date.now();
      const pct = last ? Math.floor((position * 100) / last) : 100;
      process.stderr.write(`\rrebuilding: ${'#'.repeat(pct / 4).padEnd(25, '.')} ${pct}% (${position}/${last})`);
    }
  },
});
process.stderr.write('\n');
console.log(
  `rebuilt ${result.jobs} jobs from ${result.events} events in ${result.ms} ms (${result.threads} folding thread${result.threads === 1 ? '' : 's'} and a writer, ${result.partitions} ranges) → ${config.readModelPath}`,
);
store.close();
