/**
 * A loopback stand-in for the data upstream (raw.githubusercontent.com): serves the pinned
 * files from the data mirror at `<base>/<repo>/<commit>/<upstream path>`, behind one redirect
 * hop, with knobs for the failures a real upstream has (a transient 503, a corrupt or a
 * missing file).
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { dataSources, type DataSource } from '@nst/common';

export interface UpstreamFaults {
  /** Listed paths answered 503 the first time they are asked for. */
  flaky?: Set<string>;
  /** Listed paths served with one byte changed. */
  corrupt?: Set<string>;
  /** Listed paths answered 404. */
  missing?: Set<string>;
}

export interface FakeUpstream {
  /** The NST_DATA_UPSTREAM value: redirects to where the files are. */
  url: string;
  /** Requests per listed path that reached the file server (after the redirect). */
  served: Map<string, number>;
  redirects: number;
  faults: UpstreamFaults;
  close(): Promise<void>;
}

export async function startFakeUpstream(mirror: string, faults: UpstreamFaults = {}): Promise<FakeUpstream> {
  const byUrlPath = new Map<string, DataSource>();
  for (const s of dataSources().values()) byUrlPath.set(`/${s.repo}/${s.commit}/${s.upstreamPath}`, s);
  const served = new Map<string, number>();
  const failedOnce = new Set<string>();
  const state = { redirects: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname.startsWith('/raw/')) {
      state.redirects++;
      res.writeHead(302, { location: `/files/${url.pathname.slice('/raw/'.length)}` }).end();
      return;
    }
    const s = url.pathname.startsWith('/files/') ? byUrlPath.get(decodeURIComponent(url.pathname.slice('/files'.length))) : undefined;
    if (!s || faults.missing?.has(s.path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
      return;
    }
    served.set(s.path, (served.get(s.path) ?? 0) + 1);
    if (faults.flaky?.has(s.path) && !failedOnce.has(s.path)) {
      failedOnce.add(s.path);
      res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream busy');
      return;
    }
    void readFile(path.join(mirror, s.path)).then(
      (bytes) => {
        if (faults.corrupt?.has(s.path)) bytes[bytes.length >> 1]! ^= 0xff;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.byteLength }).end(bytes);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/raw`,
    served,
    get redirects() {
      return state.redirects;
    },
    faults,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
