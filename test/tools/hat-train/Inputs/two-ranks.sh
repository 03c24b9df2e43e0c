#!/bin/bash
# Runs a two-rank hat-train job in the multi-machine form, both ranks on
# this machine: `--dist-url tcp://127.0.0.1:PORT --world-size 2 --rank R`.
#   two-ranks.sh OUTDIR hat-train ARGS...
# Each rank's output goes to OUTDIR/rank<R>.log; prints each exit status and
# whether the job ended within 45 s.
out=$1
shift
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s)
"$@" --dist-url "tcp://127.0.0.1:$port" --world-size 2 --rank 1 > "$out/rank1.log" 2>&1 &
rank1=$!
"$@" --dist-url "tcp://127.0.0.1:$port" --world-size 2 --rank 0 > "$out/rank0.log" 2>&1
status0=$?
wait $rank1
status1=$?
elapsed=$(( $(date +%s) - start ))
echo "rank 0 exit status $status0"
echo "rank 1 exit status $status1"
if [ "$elapsed" -le 45 ]; then echo "ended within 45 s"; else echo "took $elapsed s"; fi
