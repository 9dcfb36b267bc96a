// Off-main-thread execution: a worker thread loads its own copy of the engine (the addon is context-aware) and a
// task module, and runs its exported functions on request, so a server's event loop stays responsive while a
// forward pass runs. Tensors never cross threads: arguments and results are structured-cloneable values (typed
// arrays are transferred, not copied, when listed in `transfer`).
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class EngineWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #ready: Promise<void>;
  #failure: Error | null = null;

  /**
   * @param taskModule path or file URL of a module whose exported (sync or async) functions become callable
   *   with run(name, ...args). It may export `setup(init)`, called once with `init` before any task.
   */
  constructor(taskModule: string | URL, opts: { init?: unknown; threads?: number } = {}) {
    const url = taskModule instanceof URL ? taskModule.href
      : taskModule.startsWith('file:') ? taskModule : pathToFileURL(isAbsolute(taskModule) ? taskModule : resolve(taskModule)).href;
    const bootstrap = fileURLToPath(new URL('./workerBootstrap.js', import.meta.url));
    this.#worker = new Worker(bootstrap, {
      workerData: { taskModule: url, init: opts.init, threads: opts.threads },
      execArgv: [],
    });
    this.#ready = new Promise((res, rej) => {
      const onMessage = (msg: { type: string; error?: string }) => {
        if (msg.type === 'ready') {
          this.#worker.off('message', onMessage);
          res();
        } else if (msg.type === 'setup-error') {
          rej(new Error(`worker setup failed: ${msg.error}`));
        }
      };
      this.#worker.on('message', onMessage);
    });
    this.#ready.catch(() => {});
    this.#worker.on('message', (msg: { type: string; id: number; result?: unknown; error?: string }) => {
      if (msg.type !== 'result' && msg.type !== 'error') return;
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.type === 'result') p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`engine worker exited with code ${code}`)));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Calls the task module's exported function `name` in the worker. */
  async run<T = unknown>(name: string, args: unknown[] = [], transfer: ArrayBuffer[] = []): Promise<T> {
    await this.#ready;
    if (this.#failure) throw this.#failure;
    const id = this.#nextId++;
    return new Promise<T>((res, rej) => {
      this.#pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
      this.#worker.postMessage({ type: 'run', id, name, args }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.#failure ??= new Error('engine worker was terminated');
    await this.#worker.terminate();
  }
}
