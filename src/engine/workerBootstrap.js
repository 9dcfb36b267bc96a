// Worker-thread entry for EngineWorker: registers the TypeScript loader in this thread, loads the engine and the
// task module, then serves run requests. Plain JS because it must run before any loader exists.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const engine = await import('./index.ts');
if (workerData.threads) engine.setNumThreads(workerData.threads);
let tasks;
try {
  tasks = await import(workerData.taskModule);
  if (typeof tasks.setup === 'function') await tasks.setup(workerData.init);
  parentPort.postMessage({ type: 'ready' });
} catch (err) {
  parentPort.postMessage({ type: 'setup-error', error: err?.message ?? String(err) });
}
parentPort.on('message', async (msg) => {
  if (msg.type !== 'run') return;
  try {
    const fn = tasks?.[msg.name];
    if (typeof fn !== 'function') throw new Error(`worker task '${msg.name}' is not exported by ${workerData.taskModule}`);
    const result = await fn(...msg.args);
    parentPort.postMessage({ type: 'result', id: msg.id, result });
  } catch (err) {
    parentPort.postMessage({ type: 'error', id: msg.id, error: err?.message ?? String(err) });
  }
});
