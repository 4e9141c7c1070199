#!/usr/bin/env bash
# Time from nothing to the first cited answer, as a new user meets it: a fresh venv, install the
# wheel (and its dependencies), `orgkb init --sample`, `orgkb index`, one `orgkb search`.
# Prints the seconds of each step and the installed size. Usage:
#   scripts/bench_first_run.sh dist/orgkb-0.1.0-py3-none-any.whl [pip arguments, e.g. --extra-index-url https://download.pytorch.org/whl/cpu]
set -euo pipefail
wheel=$(realpath "$1"); shift
work=$(mktemp -d)
export HOME="$work/home" XDG_CONFIG_HOME="" XDG_DATA_HOME="" XDG_STATE_HOME=""
mkdir -p "$HOME"
now() { date +%s.%N; }
t0=$(now)
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$@" "$wheel"
t1=$(now)
"$work/venv/bin/orgkb" init --sample --dest "$work/sample" 2>/dev/null
"$work/venv/bin/orgkb" --config "$work/sample/orgkb.toml" index >/dev/null 2>&1
t2=$(now)
"$work/venv/bin/orgkb" --config "$work/sample/orgkb.toml" search "who approves expenses over the limit" -n 1 | head -2
t3=$(now)
python3 -c "import sys; t=[float(x) for x in sys.argv[1:]]; print(f'install {t[1]-t[0]:.0f} s, init+index {t[2]-t[1]:.0f} s, first search {t[3]-t[2]:.0f} s, total {t[3]-t[0]:.0f} s')" "$t0" "$t1" "$t2" "$t3"
du -sh "$work/venv/lib/python3.11/site-packages" "$work/venv/lib/python3.11/site-packages/torch"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$work"
