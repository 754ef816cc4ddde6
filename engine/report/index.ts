/** Exercise reports of executions and drill history of plans (README of this folder: ARCHITECTURE.md). */
export { buildReport, type ReportInput } from './build.ts';
export { escapeHtml } from './escape.ts';
export { EXECUTION_META, renderHistoryHtml, renderReportHtml } from './html.ts';
export {
  type DrillHistory,
  type DrillHistoryRow,
  drillHistorySchema,
  type ExecutionReport,
  executionReportSchema,
  judge,
  overall,
  REPORT_SCHEMA_VERSION,
  VERDICTS,
  type Verdict,
} from './model.ts';
export {
  checkReportHash,
  drillHistory,
  executionOfReport,
  type GeneratedReport,
  generateReport,
  REPORT_RETENTION_MS,
  type ReportFormat,
  readReportInput,
  renderHistory,
  renderReport,
  sha256,
  type Verification,
} from './store.ts';
export { describeEvent, scriptOutput, TIMELINE_CLOCKS, timelineLine } from './timeline.ts';
