import { createServer, type AddressInfo } from 'node:net';

/**
 * A port that was free on 127.0.0.1 a moment ago. Another process may take it before ours binds, so
 * callers that start servers retry with fresh ports when the bind fails (see `withPortRetry`).
 */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** `n` distinct free ports (held open together so they cannot collide with each other). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export class PortInUseError extends Error {
  readonly reason = 'port_in_use';
}

/** Runs `start` up to `attempts` times while it fails with PortInUseError (a lost race for a free port). */
export async function withPortRetry<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortInUseError) || i >= attempts) throw err;
    }
  }
}
