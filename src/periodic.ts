/** Background work run now and then every `intervalMs` while the server runs (not in the CLI). */
export function periodic(intervalMs: number, tick: () => void, opts: { runAtStart?: boolean } = {}): { start(): void; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  return {
    start() {
      if (timer) return;
      if (opts.runAtStart) tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
