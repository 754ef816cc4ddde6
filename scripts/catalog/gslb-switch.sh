#!/bin/sh
# gslb-switch: make the global server load balancer answer with the site the execution recovers to
# (with DR_UNDO=1, the one it came from).
# Example catalog entry (estate-200): records the active site in $DR_STATE_DIR/gslb/<plan>
# (default ${TMPDIR:-/tmp}/drorch-state/gslb); replace the write with your GSLB's API call.
# Optional args: DR_ARG_NAME (default: the plan's name). Idempotent.
set -eu
name="${DR_ARG_NAME:-${DR_PLAN:?DR_PLAN is set by the engine}}"
site="${DR_TO_SITE:?DR_TO_SITE is set by the engine}"
if [ "${DR_UNDO:-}" = "1" ]; then site="${DR_FROM_SITE:?}"; fi
dir="${DR_STATE_DIR:-${TMPDIR:-/tmp}/drorch-state}/gslb"
mkdir -p "$dir"
old="$(cat "$dir/$name" 2>/dev/null || echo none)"
printf '%s\n' "$site" > "$dir/$name"
echo "gslb $name: $old -> $site ($DR_EXECUTION)"
