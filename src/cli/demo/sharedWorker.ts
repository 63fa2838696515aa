import { FileTaskStore, PostgresTaskStore, type TaskStore } from '../../index.js';
import { ExitCode } from '../exit.js';
import { DemoRun, type RunObserver } from './DemoRun.js';
import { planDemo } from './graph.js';
import { isParentMessage, type WorkerConfig, type WorkerMessage } from './messages.js';
import { transitionDetail } from './reporter.js';

/*
 * One worker process of `task-runtime demo --processes N`, forked by the demo command (see `processes.ts`): it
 * waits for its config over IPC, opens the run shared on the store with its worker id, and runs a GraphWorker with
 * the demo's simulated agents until the run is settled, reporting every step to the parent.
 *
 * It stops gracefully (no new attempt; the agents at work finish their step, saved) on the parent's `stop`, on
 * SIGTERM, and when the parent is gone (the IPC channel closed). Ctrl-C in a terminal reaches the whole process
 * group: the parent forwards it as `stop`, so this process ignores SIGINT itself (a second one would end it at once).
 */

/** Sends `message` to the parent; resolves once it is handed over, or at once when the parent is gone. */
function tell(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

/** Opens the store the config names (a PostgreSQL pool of a few connections: there are up to 16 workers). */
function openStore(config: WorkerConfig): Promise<TaskStore> {
  const { store } = config;
  return store.kind === 'file'
    ? FileTaskStore.open(store.dir)
    : PostgresTaskStore.connect({
        connectionString: store.connectionString,
        table: store.table,
        migrate: false,
        maxConnections: 4,
      });
}

/** Reports the worker's steps to the parent. */
const observer: RunObserver = {
  note: (text) => void tell({ type: 'note', text }),
  transition(record, task) {
    if (record.from === record.to) return;
    const { at, taskId, attemptNum, from, to } = record;
    const detail = transitionDetail(record, task);
    void tell({ type: 'transition', at, taskId, attemptNum, from, to, detail });
  },
  rejection: () => undefined, // DemoRun reports none in a shared run
};

/**
 * Opens the run, waits for `go` (every worker starts together, so that the first to open does not take every ready
 * task alone), and works it until it is settled or `signal` aborts; resolves with the exit code.
 */
async function work(config: WorkerConfig, go: Promise<void>, signal: AbortSignal): Promise<number> {
  const store = await openStore(config);
  try {
    const { workerId, leaseMs, followMs } = config;
    const demo = await DemoRun.open(store, planDemo(config.settings), observer, {
      workerId,
      leaseMs,
      followMs,
    });
    try {
      await tell({ type: 'opened' });
      await go;
      const result = await demo.execute({ delayMs: config.delayMs, signal });
      await tell({ type: 'done', result });
      return result === 'finished' ? ExitCode.OK : ExitCode.INTERRUPTED;
    } finally {
      demo.run.close();
    }
  } finally {
    await store.close();
  }
}

function main(): void {
  const controller = new AbortController();
  let letGo = (): void => undefined;
  const go = new Promise<void>((resolve) => {
    letGo = resolve;
  });
  const stop = (): void => {
    controller.abort();
    letGo(); // a stopped worker goes, to end at once
  };
  process.on('SIGINT', () => undefined); // the parent forwards Ctrl-C as `stop`
  process.on('SIGTERM', stop);
  process.on('disconnect', stop); // the parent is gone: nobody shows this worker's steps any more
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) return;
    if (message.type === 'stop') {
      stop();
      return;
    }
    if (message.type === 'go') {
      letGo();
      return;
    }
    work(message.config, go, controller.signal)
      .catch((error: unknown) => {
        process.stderr.write(
          `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
        return ExitCode.FAILURE;
      })
      .then((code) => {
        process.exitCode = code;
        if (process.connected) process.disconnect();
      });
  });
}

main();
