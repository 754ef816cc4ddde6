/** The automation's keys in the vault's Redis (engine/control/auto). */
export function autoKeys(prefix: string) {
  return {
    /** HASH plan → ArmRecord JSON: which plans an admin armed, and whether the arming is spent. */
    arms: `${prefix}:auto:arms`,
    /** HASH plan → PendingRecord JSON: a decision under way (its veto window, its outcome). */
    pending: `${prefix}:auto:pending`,
    /** STRING with a TTL per site: maintenance mode; it expires by itself. */
    maintenance: (site: string) => `${prefix}:auto:maintenance:${site}`,
    /** SET of the sites with a maintenance key (for status; a member whose key expired is dropped). */
    maintenanceSites: `${prefix}:auto:maintenance-sites`,
    /** HASH site → GuardReport JSON: the hosts' guards as the site's agent last reported them. */
    guards: `${prefix}:auto:guards`,
  };
}
