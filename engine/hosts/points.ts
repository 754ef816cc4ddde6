import type { RecoveryPoint, RecoveryPointSelector } from './driver.ts';

/**
 * The point Start-VMFailover takes for `selector` among the points Get-VMSnapshot lists (newest
 * first, the implicit `latest` point first): what pre-flight and the handlers check before they
 * act, so that a failover from a point that does not exist is refused before anything changes.
 * `latestProcessed` is not listed: the newest listed point stands for it. For `at`, the latest
 * point when it is not after the time, else the newest older one.
 */
export function pointFor(
  selector: RecoveryPointSelector,
  points: readonly RecoveryPoint[],
): RecoveryPoint | undefined {
  switch (selector.kind) {
    case 'latest':
    case 'latestProcessed':
      return points[0];
    case 'latestAppConsistent':
      return points.find((p) => p.kind === 'appConsistent');
    case 'at': {
      const at = Date.parse(selector.at);
      return points.find((p) => Date.parse(p.time) <= at);
    }
    case 'id':
      return points.find((p) => p.id === selector.id);
  }
}
