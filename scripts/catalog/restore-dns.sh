#!/bin/sh
# restore-dns: the undo of update-dns: point the record back at the site the execution came from.
set -eu
DR_UNDO=1 exec "$(dirname "$0")/update-dns.sh"
