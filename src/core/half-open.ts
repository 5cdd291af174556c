import type { Server } from 'node:net';

/**
 * Lets `server` answer a request whose client half-closed right after sending it (HTTP/1.0 tools,
 * `printf … | nc -N`, some health checkers). Node's default aborts such a request as soon as the FIN
 * arrives, so a handler that answers asynchronously never gets to; with this flag Node keeps the
 * write side open, marks the response as the connection's last, and closes once it is sent.
 * `httpAllowHalfOpen` is the node:http server's own switch (not in its typings, present since Node 0.x).
 */
export function answerHalfClosedRequests(server: Server): void {
  // Typed as net.Server so every http/https server type (custom response classes included) fits.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}
