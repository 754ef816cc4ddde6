export { monitorKeys, readSiteLeases, type SiteLeaseView } from './keys.ts';
export { type SiteMonitor, type SiteMonitorOptions, startSiteMonitor } from './monitor.ts';
