/**
 * The daemon's log: one line per event on stderr, in dockerd's (logrus text) shape,
 * `time="2026-01-02T03:04:05.678Z" level=info msg="API listen on /run/berth/berth.sock"`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function streamLogger(level: LogLevel, out: { write(s: string): unknown } = process.stderr): Logger {
  const at = (l: LogLevel) => (msg: string): void => {
    if (ORDER[l] < ORDER[level]) return;
    out.write(`time="${new Date().toISOString()}" level=${l} msg=${JSON.stringify(msg)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
