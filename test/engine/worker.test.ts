import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineWorker } from '../../src/engine/index.ts';

const tasks = new URL('./fixtures/workerTasks.ts', import.meta.url);

test('EngineWorker runs engine code off the main thread while the event loop keeps ticking', async () => {
  const worker = new EngineWorker(tasks, { init: { scale: 3 }, threads: 1 });
  try {
    const doubled = await worker.run<Float32Array>('double', [new Float32Array([1, 2, 3])]);
    assert.deepEqual(Array.from(doubled), [6, 12, 18]);
    assert.equal(await worker.run('threads'), 1);

    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const value = await worker.run<number>('heavy', [700]);
    clearInterval(timer);
    const elapsed = Date.now() - started;
    assert.ok(Number.isFinite(value) && value > 0);
    // The main thread stayed free: it ticked for most of the time the worker was busy.
    assert.ok(ticks >= Math.floor(elapsed / 10) * 0.5, `only ${ticks} ticks in ${elapsed} ms`);

    await assert.rejects(worker.run('fail'), /task failed on purpose/);
    await assert.rejects(worker.run('nope'), /worker task 'nope' is not exported/);
  } finally {
    await worker.terminate();
  }
});
