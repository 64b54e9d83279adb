/** Records the events of a subscription and waits for the n-th, without sleeping. */
export function recorder<T>() {
  const events: T[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    events,
    push(event: T): void {
      events.push(event);
      for (const waiter of waiters.filter((w) => events.length >= w.count)) waiter.resolve();
    },
    async waitFor(count: number, timeoutMs = 8_000): Promise<T[]> {
      if (events.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out with ${events.length}/${count} events`)), timeoutMs);
          waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
        });
      }
      return events;
    },
  };
}
