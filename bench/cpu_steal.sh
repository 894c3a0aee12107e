# Sourced by the bench scripts: how much CPU time the hypervisor took from this VM during a run.
#
# On a shared virtual machine, other guests on the same host take CPU time from ours ("steal" in
# /proc/stat). Measured here: the same homeml iris run gave 13,000 req/s with 43% steal and 27,800 req/s
# with 21% a minute apart, so every load figure is printed with the steal of its own run.

# Prints "<steal> <total>" clock ticks summed over all CPUs so far (user..steal; guest time is already
# inside user).
cpu_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat
}

# steal_percent "<cpu_ticks before>" "<cpu_ticks after>": the share of all CPU time stolen in between,
# in whole percent.
steal_percent() {
    local s0 t0 s1 t1
    read -r s0 t0 <<<"$1"
    read -r s1 t1 <<<"$2"
    awk -v s="$((s1 - s0))" -v t="$((t1 - t0))" 'BEGIN { if (t > 0) printf "%.0f", 100 * s / t; else printf "?" }'
}
