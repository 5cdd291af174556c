/** What closeServer needs of a node:http or node:https server (of any request/response class). */
export interface ClosableServer {
  close(callback: () => void): unknown;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/**
 * Stops `server` accepting, closes its idle connections at once and every other one after
 * `graceMs`; resolves when the last connection is gone. The grace timer is referenced on purpose:
 * a half-closed connection (core/half-open.ts) is no active handle, so with an unreferenced timer
 * the event loop could empty while the caller still awaits the close.
 */
export function closeServer(server: ClosableServer, graceMs: number): Promise<void> {
  return new Promise<void>((ok) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      ok();
    });
    server.closeIdleConnections();
  });
}
