// debuginfod servers for the tests: elfutils' own (`debuginfod -F DIR`, Debian package debuginfod) and a tiny
// HTTP server whose answers a test scripts per build-id (404s, another build-id's file, a cut connection).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer, get } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Why elfutils' debuginfod cannot run here, or null when it can. */
export function debuginfodMissing(): string | null {
  const r = spawnSync('debuginfod', ['--version'], { encoding: 'utf8' });
  return r.error ? 'the debuginfod command is not installed (Debian package debuginfod; scripts/test.sh installs it)' : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** Its /metrics once the first traversal is over and no file waits to be scanned. */
function scanned(metrics: string): boolean {
  const value = (key: string) => Number(new RegExp(`^${key.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
  return value('thread_work_total{role="traverse"}') >= 1 && value('thread_busy{role="traverse"}') === 0
    && value('thread_work_pending{role="scan"}') === 0 && value('thread_busy{role="scan"}') === 0;
}

/**
 * `debuginfod -F -L DIR` on 127.0.0.1 (a free port, its database in a temporary directory, no rescans), resolved
 * once it has scanned DIR. Symlinks are followed (-L): a Debian debug tree's vmlinux is one.
 */
export async function startDebuginfod(dir: string, timeoutMs = 120_000): Promise<RunningServer> {
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), 'ksymtree-debuginfod-'));
  const args = ['-F', '-L', '-p', String(port), '-d', join(work, 'db.sqlite'), '-t', '0', '-g', '0', dir];
  // setpriv (util-linux) makes the server die with the test's thread, also when ava kills a test that timed out.
  const withSetpriv = spawnSync('setpriv', ['--help']).error === undefined;
  const child: ChildProcess = withSetpriv
    ? spawn('setpriv', ['--pdeathsig', 'TERM', '--', 'debuginfod', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('debuginfod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(work, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`debuginfod exited with ${child.exitCode}: ${log}`);
    const metrics = await fetchText(`${url}/metrics`).catch(() => '');
    if (scanned(metrics)) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`debuginfod had not scanned ${dir} after ${timeoutMs / 1000} s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A test's answer to `GET /buildid/<id>/debuginfo`; the requests seen are kept in order. */
export type Answer = (buildId: string, res: ServerResponse, socket: Socket) => void;

export async function startScriptedServer(answer: Answer): Promise<RunningServer & { readonly requests: string[]; server: Server }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const m = /^\/buildid\/([0-9a-f]+)\/debuginfo$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    answer(m[1], res, req.socket);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, requests, server,
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
