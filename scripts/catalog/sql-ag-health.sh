#!/bin/sh
# sql-ag-health: check that the SQL Server availability groups of the recovered databases are
# healthy before the application tier starts.
# Example catalog entry (estate-200): reports the VMs of the run ($DR_VMS, the databases group)
# and writes $DR_STATE_DIR/sql/ag-health (default ${TMPDIR:-/tmp}/drorch-state/sql); replace it
# with a query of sys.dm_hadr_availability_replica_states (or dbatools' Test-DbaAvailabilityGroup)
# and exit non-zero when a replica is not HEALTHY.
# Read-only but for the report, so running it twice is harmless.
set -eu
site="${DR_TO_SITE:?DR_TO_SITE is set by the engine}"
dir="${DR_STATE_DIR:-${TMPDIR:-/tmp}/drorch-state}/sql"
mkdir -p "$dir"
echo "$site ${DR_VMS:-none}" > "$dir/ag-health"
echo "availability groups at $site: HEALTHY (${DR_VMS:-no VMs})"
