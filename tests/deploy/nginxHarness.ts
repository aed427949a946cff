/**
 * Runs docker/nginx.conf in Debian's nginx on loopback, as the frontend image includes it, with
 * three substitutions: the listen address (a free loopback port), the gateway upstream (a given
 * loopback port) and the document root; temp paths move from /tmp into a private folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readText, runOk } from './tools.ts';
import { freePort } from '../../scripts/lib/stack.ts';


export interface RunningNginx {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startNginx(o: { root: string; gatewayPort: number }): Promise<RunningNginx> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nst-nginx-'));
  const port = await freePort();
  const server = readText('docker/nginx.conf')
    .replaceAll('/tmp/', `${dir}/`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
    .replace(/\s*listen \[::\]:8080;/, '')
    .replace('server gateway:8000;', `server 127.0.0.1:${o.gatewayPort};`)
    .replace('root /usr/share/nginx/html;', `root ${o.root};`);
  if (!server.includes(`server 127.0.0.1:${o.gatewayPort};`) || !server.includes(`root ${o.root};`)) throw new Error('docker/nginx.conf changed shape: update tests/deploy/nginxHarness.ts');
  await writeFile(path.join(dir, 'default.conf'), server);
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      'user root;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 64; }',
      'http {',
      '  include /etc/nginx/mime.types;',
      '  default_type application/octet-stream;',
      `  access_log ${dir}/access.log;`,
      `  include ${dir}/default.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  await runOk('nginx', ['-t', '-p', dir, '-c', conf]);
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(`${url}/health`);
      return { url, dir, stop };
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        const errors = await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
        await stop();
        throw new Error(`nginx did not start: ${log}${errors}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
