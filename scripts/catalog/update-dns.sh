#!/bin/sh
# update-dns: point a DNS record at the site the execution recovers to.
# Example catalog entry (drctl worker --script-catalog scripts/catalog). It edits a zone file under
# $DR_STATE_DIR/dns (default ${TMPDIR:-/tmp}/drorch-state/dns): replace it with your DNS API call.
# Args (from the plan): DR_ARG_ZONE, DR_ARG_RECORD; optional DR_ARG_TTL (default 60).
# Idempotent: running it twice leaves one record, so a re-run after a crash is harmless.
set -eu
zone="${DR_ARG_ZONE:?the action must pass args: zone}"
record="${DR_ARG_RECORD:?the action must pass args: record}"
ttl="${DR_ARG_TTL:-60}"
site="${DR_TO_SITE:?DR_TO_SITE is set by the engine}"
if [ "${DR_UNDO:-}" = "1" ]; then site="${DR_FROM_SITE:?}"; fi
dir="${DR_STATE_DIR:-${TMPDIR:-/tmp}/drorch-state}/dns"
mkdir -p "$dir"
file="$dir/$zone.zone"
touch "$file"
old="$(grep "^$record " "$file" || true)"
new="$record $ttl IN CNAME $record.$site.$zone. ; $DR_EXECUTION $DR_TYPE attempt $DR_ATTEMPT"
tmp="$file.$$"
grep -v "^$record " "$file" > "$tmp" || true
echo "$new" >> "$tmp"
mv "$tmp" "$file"
echo "zone $zone: ${old:-"(no $record record)"} -> $new"
