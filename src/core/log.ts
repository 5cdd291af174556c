/**
 * Structured JSON logs on stderr (stdout carries only the ready line). Fields must never hold
 * secrets: URIs are redacted and options masked before they reach here.
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

let quiet = process.env.STRATA_LOG === 'off';

export function setQuiet(value: boolean): void {
  quiet = value;
}

export const logger: Logger = (event, fields = {}) => {
  if (quiet) return;
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
};
