import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { TaskStore } from '../index.js';
import { createDashboardApp } from './app.js';
import { StoreChanges } from './live.js';
import { StoreSlot } from './storeSlot.js';

/** Options of {@link startDashboard}. */
export interface DashboardServerOptions {
  /** The store, or a slot filled once the store appears (the pages say they wait until then). */
  readonly store: TaskStore | StoreSlot;
  /** How the pages name the store. */
  readonly storeLabel: string;
  /** The address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The port; 0 takes any free one. @default 0 */
  readonly port?: number;
  /** Milliseconds between two looks at the store for live updates. @default 500 */
  readonly pollMs?: number;
}

/** A running dashboard. */
export interface DashboardServer {
  /** Where to open it, e.g. `http://127.0.0.1:4280/`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening, ends every open connection (event streams included) and the change feed; the store stays open. */
  close(): Promise<void>;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

/** `host` as the authority part of a URL (IPv6 addresses in brackets); unspecified addresses as loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Serves the dashboard over `store` and resolves once it listens. Bound to a loopback address, it answers only
 * requests whose Host header names a loopback address with its port (DNS rebinding cannot reach it).
 * @throws {Error} with code EADDRINUSE, EADDRNOTAVAIL… when it cannot listen
 */
export async function startDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const { storeLabel, host = '127.0.0.1', port = 0, pollMs } = options;
  const store = StoreSlot.of(options.store);
  const changes = new StoreChanges(store, pollMs === undefined ? {} : { intervalMs: pollMs });
  let boundPort = port;
  const hostAllowed = (header: string): boolean => {
    if (!isLoopback(host)) return true;
    const match = /^(.*):(\d+)$/.exec(header);
    return match !== null && Number(match[2]) === boundPort && isLoopback(match[1] ?? '');
  };
  const app = createDashboardApp({ store, storeLabel, changes, hostAllowed });
  const server = await new Promise<Server>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, port, hostname: host }) as Server;
    created.once('error', reject);
    created.once('listening', () => {
      created.off('error', reject);
      resolve(created);
    });
  });
  boundPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${boundPort}/`,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        changes.close();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
