#!/bin/sh
# gslb-restore: the undo of gslb-switch: answer with the site the execution came from again.
set -eu
DR_UNDO=1 exec "$(dirname "$0")/gslb-switch.sh"
