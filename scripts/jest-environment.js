/**
 * Jest's node environment, plus one check when a test file ends: a connection, server or child
 * process the file opened and left open fails that file, by name.
 *
 * Such a handle outlives its file in the Jest worker, so the worker cannot exit at the end of the
 * run. Jest then kills it and prints "A worker process has failed to exit gracefully", which names
 * no file. The leak shows up only when the leaking file happens to run last in its worker.
 *
 * Node has no public API that lists handles with their addresses (`getActiveResourcesInfo` gives
 * type names only), hence `process._getActiveHandles`. Unref'd handles are not counted: they never
 * keep a process alive. Timers are not counted either: Node does not list them as handles.
 */
const { ChildProcess } = require('node:child_process');
const net = require('node:net');
const { TestEnvironment } = require('jest-environment-node');

/** How long a handle may take to close after the file's last hook (a socket's FIN, a child's exit). */
const GRACE_MS = 5_000;
const POLL_MS = 50;

const activeHandles = () => (typeof process._getActiveHandles === 'function' ? process._getActiveHandles() : []);

function keepsProcessAlive(handle) {
  try {
    if (handle instanceof ChildProcess) return handle.exitCode === null && handle.signalCode === null && handle._handle?.hasRef() !== false;
    if (handle instanceof net.Server) return handle.listening && handle._handle?.hasRef() !== false;
    // Connected TCP sockets only: stdio and the worker's IPC pipe belong to Jest.
    if (handle instanceof net.Socket) return handle.remotePort !== undefined && !handle.destroyed && handle._handle?.hasRef() !== false;
  } catch {
    return false;
  }
  return false;
}

function describeHandle(handle) {
  if (handle instanceof ChildProcess) return `child process ${handle.pid} (${(handle.spawnargs ?? []).join(' ').slice(0, 120)})`;
  if (handle instanceof net.Server) return `server listening on ${JSON.stringify(handle.address())}`;
  const side = handle.server ? 'accepted' : 'client';
  return `${side} connection ${handle.localAddress}:${handle.localPort} -> ${handle.remoteAddress}:${handle.remotePort}`;
}

class LeakCheckingEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // What an earlier file of this worker left is that file's failure, not this one's.
    this.handlesBefore = new Set(activeHandles());
  }

  async teardown() {
    await super.teardown();
    const leftOpen = () => activeHandles().filter((handle) => !this.handlesBefore.has(handle) && keepsProcessAlive(handle));
    const until = Date.now() + GRACE_MS;
    let open = leftOpen();
    while (open.length > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
      open = leftOpen();
    }
    if (open.length > 0) {
      throw new Error(
        `left open ${GRACE_MS / 1000} s after the file's last hook (close it, read its body or cancel its stream): ${open.map(describeHandle).join('; ')}`,
      );
    }
  }
}

module.exports = LeakCheckingEnvironment;
