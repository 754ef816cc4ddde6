#!/bin/sh
# sql-fix-orphaned-logins: re-map database users to the logins of the instance they recovered on
# (after a failover, SQL logins' SIDs on the replica may not match: "orphaned users").
# Example catalog entry (estate-200): records the fix in $DR_STATE_DIR/sql/<instance>.logins
# (default ${TMPDIR:-/tmp}/drorch-state/sql); replace it with `sp_change_users_login` / dbatools'
# Repair-DbaDbOrphanUser against the instance.
# Args: DR_ARG_INSTANCE. Idempotent: a second run finds nothing left to re-map.
set -eu
instance="${DR_ARG_INSTANCE:?the action must pass args: instance}"
site="${DR_TO_SITE:?DR_TO_SITE is set by the engine}"
dir="${DR_STATE_DIR:-${TMPDIR:-/tmp}/drorch-state}/sql"
mkdir -p "$dir"
printf '%s %s %s\n' "$site" "$DR_EXECUTION" "$DR_ATTEMPT" > "$dir/$instance.logins"
echo "instance $instance at $site: orphaned users re-mapped ($DR_EXECUTION, attempt $DR_ATTEMPT)"
