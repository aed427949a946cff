/**
 * A throw-away PostgreSQL cluster for tests: initdb into a temporary folder, started with
 * pg_ctl on a free loopback port (its unix socket in the same folder), removed afterwards.
 * Debian's server binaries live in /usr/lib/postgresql/<version>/bin (scripts/setup.sh
 * installs them). initdb refuses to run as root, so as root the cluster belongs to the
 * `postgres` user and its commands run through runuser.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../scripts/lib/stack.ts';

const run = promisify(execFile);

export interface TestPostgres {
  /** postgres:// URL of the cluster's `postgres` database. */
  url: string;
  port: number;
  /** A new empty database, and its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest installed server's bin folder (PG_BIN overrides). */
export async function postgresBinDir(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL server found in /usr/lib/postgresql (install the Debian package "postgresql": scripts/setup.sh)');
  return path.join(root, versions[0]!, 'bin');
}

export async function startPostgres(opts: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = await postgresBinDir();
  const dir = await mkdtemp(path.join(tmpdir(), 'nst-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    await chown(dir, Number(uid.trim()), Number(gid.trim()));
  }
  const pgCmd = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { cwd: dir }) : run(path.join(bin, cmd), args, { cwd: dir }));
  await pgCmd('initdb', ['-D', data, '-U', 'nst', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // Loopback only, the socket in the temp folder; durability off unless asked for (a test cluster).
  const durability = opts.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200${durability}`;
  await pgCmd('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  const url = `postgresql://nst@127.0.0.1:${port}/postgres`;
  let n = 0;
  return {
    url,
    port,
    async createDatabase(name = `nst_test_${process.pid}_${++n}`) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgresql://nst@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await pgCmd('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
