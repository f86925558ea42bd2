/** Seconds each step of a suite's setup took, printed with its summary: `step('Spark')` closes the step begun at the previous call. */
export function stepTimer(): { timings: Record<string, number>; step(name: string): void; restart(): void } {
  const timings: Record<string, number> = {};
  let start = Date.now();
  return {
    timings,
    step(name) {
      const now = Date.now();
      timings[name] = Math.round((now - start) / 100) / 10;
      start = now;
    },
    restart() {
      start = Date.now();
    },
  };
}
