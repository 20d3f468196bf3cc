// A chatctl server of the tests' own: a fresh data folder, a free loopback
// port, killed (SIGKILL) and started again on both when a test asks.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHATCTL =
  process.env.CHATCTL ?? fileURLToPath(new URL('../../target/debug/chatctl', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export class ChatServer {
  private proc: ChildProcess | null = null;
  private log: WriteStream;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  static async start(logFile: string): Promise<ChatServer> {
    const dir = mkdtempSync(join(tmpdir(), 'chat-web-test-'));
    const s = new ChatServer(dir, await freePort(), logFile);
    await s.launch();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts chatctl and waits for its `listening on ADDR` line. */
  private launch(): Promise<void> {
    const proc = spawn(
      CHATCTL,
      ['serve', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`],
      { cwd: this.dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    proc.stderr!.pipe(this.log, { end: false });
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('chatctl did not start within 30 s')), 30_000);
      const lines = createInterface({ input: proc.stdout! });
      lines.once('line', (line) => {
        clearTimeout(timer);
        if (/^listening on /.test(line)) ok();
        else fail(new Error(`chatctl said ${line}`));
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`chatctl exited (${code ?? signal}) before listening; see ${this.log.path}`));
      });
      proc.once('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
    });
  }

  /** kill -9, as a crash would. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  /** Starts again on the same port and data folder. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((ok) => proc.once('exit', ok));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    this.proc = null;
    this.log.end();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  // ---- the HTTP API, for setting scenes quickly ----

  async token(user: string, device: string): Promise<string> {
    const r = await this.http('POST', '/v1/dev/token', undefined, { user, device });
    return r.token;
  }

  async http(method: string, path: string, token?: string, body?: unknown): Promise<any> {
    for (;;) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (r.status === 429) {
        const wait = Number((await r.json()).error?.retry_after_ms ?? 200);
        await new Promise((ok) => setTimeout(ok, wait));
        continue;
      }
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.status === 204 ? undefined : r.json();
    }
  }
}
