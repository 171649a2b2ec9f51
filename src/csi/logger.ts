import winston from 'winston';

/**
 * The process logger: structured JSON (one object per line) when stderr is not a terminal, as in
 * a pod; readable text on a terminal. FAMFS_CSI_LOG_FORMAT=json|text and FAMFS_CSI_LOG_LEVEL
 * override.
 */
export type Logger = winston.Logger;

export function createLogger(opts: { level?: string; format?: 'json' | 'text'; silent?: boolean } = {}): Logger {
  const format = opts.format ?? (process.env.FAMFS_CSI_LOG_FORMAT as 'json' | 'text' | undefined) ?? (process.stderr.isTTY ? 'text' : 'json');
  const text = winston.format.printf(({ level, message, timestamp, ...meta }) => {
    const rest = Object.entries(meta)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${String(timestamp)} ${level} ${String(message)}${rest ? ' ' + rest : ''}`;
  });
  return winston.createLogger({
    level: opts.level ?? process.env.FAMFS_CSI_LOG_LEVEL ?? 'info',
    silent: opts.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), format === 'json' ? winston.format.json() : winston.format.combine(winston.format.colorize(), text)),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
  });
}
