/**
 * Background work run now and then every `intervalMs` while the server runs (not in the CLI). A
 * tick that is still running when the next is due is not started twice; stop() waits for it.
 */
export function periodic(intervalMs: number, tick: () => void | Promise<void>, opts: { runAtStart?: boolean } = {}): { start(): void; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  const run = () => {
    if (running !== null) return;
    running = Promise.resolve()
      .then(tick)
      .catch(() => undefined)
      .finally(() => {
        running = null;
      });
  };
  return {
    start() {
      if (timer) return;
      if (opts.runAtStart) run();
      timer = setInterval(run, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
