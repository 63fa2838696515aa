/** The real OpenTelemetry SDK for the tracing tests: spans kept in memory, and a clock for the runtimes. */
import type { Tracer } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** The time the clocks of {@link tickingClock} start from (their first reading is one second later). */
export const CLOCK_START = Date.parse('2026-01-05T09:00:00.000Z');

/** A clock that moves one second forward on every reading. */
export function tickingClock(): () => Date {
  let now = CLOCK_START;
  return () => {
    now += 1000;
    return new Date(now);
  };
}

/** Milliseconds since the epoch of a span's [seconds, nanoseconds] time. */
export const millis = ([seconds, nanos]: readonly [number, number]): number =>
  seconds * 1000 + nanos / 1e6;

/** The names of a span's events, in order. */
export const eventNames = (span: ReadableSpan | undefined): string[] =>
  (span?.events ?? []).map((event) => event.name);

/** A tracer whose spans, once ended, are exported to memory (SimpleSpanProcessor + InMemorySpanExporter). */
export interface MemoryTracing {
  readonly tracer: Tracer;
  /** The ended spans, in the order they ended. */
  spans(): ReadableSpan[];
  /** Forgets the spans exported so far (for afterEach). */
  reset(): void;
  /** Shuts the provider down (for afterAll). */
  shutdown(): Promise<void>;
}

/** A new {@link MemoryTracing}, its provider built the SDK 2.x way (span processors passed to the constructor). */
export function memoryTracing(): MemoryTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    tracer: provider.getTracer('task-runtime-test'),
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    shutdown: () => provider.shutdown(),
  };
}
