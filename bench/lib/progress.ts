/** Progress lines on stderr (the table goes to stdout), with the elapsed time of the whole run. */
const started = Date.now();
const tty = process.stderr.isTTY;
const paint = (code: string, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);

function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}

let liveLine = false;

function endLive(): void {
  if (liveLine) process.stderr.write('\n');
  liveLine = false;
}

export const progress = {
  step(message: string): void {
    endLive();
    process.stderr.write(`${paint('2', stamp())} ${paint('1;36', '▶')} ${message}\n`);
  },
  info(message: string): void {
    endLive();
    process.stderr.write(`${paint('2', stamp())}   ${message}\n`);
  },
  warn(message: string): void {
    endLive();
    process.stderr.write(`${paint('2', stamp())}   ${paint('33', `warning: ${message}`)}\n`);
  },
  error(message: string): void {
    endLive();
    process.stderr.write(`${paint('1;31', `✖ ${message}`)}\n`);
  },
  /** A line that rewrites itself on a terminal; one line per call otherwise. */
  live(message: string): void {
    if (tty) {
      process.stderr.write(`\r\x1b[2K${paint('2', stamp())}   ${message}`);
      liveLine = true;
    } else {
      process.stderr.write(`${stamp()}   ${message}\n`);
    }
  },
  done(): void {
    endLive();
  },
};
