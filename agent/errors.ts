// The few error classes. An AgentError is an expected failure, told to the operator in one line: the daemon logs it and
// retries on the next tick (or, for a ConfigError at start, exits 2). Anything else is a bug and main.ts prints its stack.
import { count } from './log.js';

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** This cluster keeps its last good routes, retried next tick. */
export class TraefikError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TRAEFIK', message, options);
  }
}

/** HAProxy answered something unexpected; nothing committed, retried next tick. */
export class HaproxyReplyError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_HAPROXY', message, options);
  }
}

/** A step before the live apply (haproxy -c, backend check, file write) failed; live maps unchanged. */
export class ApplyError extends AgentError {
  constructor(
    readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_APPLY', message, options);
  }
}

/** hard at start-up; on reload the old config stays in force. The message is the summary: missing, or invalid with a count. */
export class ConfigError extends AgentError {
  constructor(
    readonly path: string,
    readonly problems: readonly string[],
    readonly kind: 'missing' | 'invalid' = 'invalid',
  ) {
    super(
      'ERR_CONFIG',
      kind === 'missing' ? `config ${path} does not exist` : `config ${path} is invalid (${count(problems.length, 'problem', 'problems')})`,
    );
  }
}

/** bad command line: exit 2 with the usage line. */
export class UsageError extends AgentError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
