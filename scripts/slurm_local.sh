#!/usr/bin/env bash
# A one-node Slurm on this machine (munge + slurmctld + slurmd on localhost), for the sweep's batch
# test and for trying `sbatch --array` before a real cluster. Debian/Ubuntu, as root or with sudo,
# no systemd needed. Idempotent: when `sinfo` already shows this node idle it does nothing.
#
#   scripts/slurm_local.sh          # install if missing, configure, start; waits for the node
#   scripts/slurm_local.sh stop     # stop the daemons this script started (by their pid files)
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
HOST="$(hostname -s)"
CONF=/etc/slurm/slurm.conf
SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
CONTROLLER_PID=/run/slurmctld.pid
NODE_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

stop() {
  for pid_file in "$NODE_PID" "$CONTROLLER_PID" "$MUNGE_PID"; do
    if [ -f "$pid_file" ]; then
      $SUDO kill "$(cat "$pid_file")" 2>/dev/null || true
      $SUDO rm -f "$pid_file"
    fi
  done
}

node_idle() {
  command -v sinfo >/dev/null 2>&1 && [ "$(sinfo --noheader --nodes="$HOST" --format=%t 2>/dev/null | head -n1)" = "idle" ]
}

if [ "${1:-start}" = "stop" ]; then
  stop
  exit 0
fi

if node_idle; then
  echo "slurm: node $HOST already idle"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: the key the daemons and clients authenticate with (one machine: any random key).
$SUDO mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
$SUDO chmod 0400 /etc/munge/munge.key
$SUDO chmod 0700 /etc/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  $SUDO rm -f "$MUNGE_PID"
  $SUDO su -s /bin/sh munge -c /usr/sbin/munged
fi
munge -n | unmunge >/dev/null

# slurm.conf for this one node: its short host name and its cores.
$SUDO mkdir -p /etc/slurm "$SPOOL" "$SLURMD_SPOOL" "$LOGS"
$SUDO tee "$CONF" >/dev/null <<EOF
# Written by scripts/slurm_local.sh: one node, this machine.
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=$CONTROLLER_PID
SlurmdPidFile=$NODE_PID
StateSaveLocation=$SPOOL
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

stop_slurm_only() {
  for pid_file in "$NODE_PID" "$CONTROLLER_PID"; do
    if [ -f "$pid_file" ]; then
      $SUDO kill "$(cat "$pid_file")" 2>/dev/null || true
      $SUDO rm -f "$pid_file"
    fi
  done
}
stop_slurm_only  # a node that is up but not idle (down, drained) starts again from this config
sleep 1
$SUDO /usr/sbin/slurmctld
$SUDO /usr/sbin/slurmd

for _ in $(seq 1 30); do
  if node_idle; then
    echo "slurm: node $HOST idle ($(nproc) CPUs, partition main)"
    exit 0
  fi
  sleep 1
done
echo "slurm: node $HOST did not come up idle; see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2
sinfo >&2 || true
exit 1
