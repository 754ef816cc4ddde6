#!/bin/sh
# f5-pool-switch: make a load-balancer pool send traffic to one site's members.
# Example catalog entry: records the pool's active site in $DR_STATE_DIR/lb/<pool> (default
# ${TMPDIR:-/tmp}/drorch-state/lb); replace the write with your load balancer's API call.
# Args: DR_ARG_POOL; DR_ARG_SITE (east|west or a site name; default: the site recovered to).
set -eu
pool="${DR_ARG_POOL:?the action must pass args: pool}"
site="${DR_ARG_SITE:-${DR_TO_SITE:?}}"
dir="${DR_STATE_DIR:-${TMPDIR:-/tmp}/drorch-state}/lb"
mkdir -p "$dir"
old="$(cat "$dir/$pool" 2>/dev/null || echo none)"
printf '%s\n' "$site" > "$dir/$pool"
echo "pool $pool: $old -> $site ($DR_EXECUTION, VMs ${DR_VMS:-none})"
