export {
  AGENT_HEADERS,
  type AgentMessageStamp,
  SITE_URI_PREFIX,
  type SignatureCheck,
  signAgentMessage,
  signedText,
  siteOfCertificate,
  verifyAgentSignature,
  verifySignatureWith,
} from './agent-signature.ts';
export {
  DURATION_HINT,
  DURATION_PATTERN,
  formatApproxDuration,
  formatDuration,
  formatElapsed,
  parseDuration,
  tryParseDuration,
} from './duration.ts';
export { assertNever, DrError, InputError, listenFailure } from './errors.ts';
export { createLogger, type Logger } from './log.ts';
export { NO_CONTROL, NO_CONTROL_BUT_LINES, stripControl, stripControlDeep } from './printable.ts';
