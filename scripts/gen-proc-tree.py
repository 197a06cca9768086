#!/usr/bin/env python3
"""Write host trees (/proc, cgroup files) shaped like real KVM hosts, for hvtax's live view.

    gen-proc-tree.py fixtures DIR          the test fixtures: DIR/live-libvirt-v2/{t0,t1},
                                           DIR/live-firecracker-v1/{t0,t1} (two samples 1 s apart)
    gen-proc-tree.py bench DIR [VMS VCPUS] one tree of VMS QEMU VMs x VCPUS vCPUs (default 100 x 8)
                                           under libvirt with cgroup v2, for the sampler benchmark
    gen-proc-tree.py kvm-debugfs DIR [VMS VCPUS]
                                           KVM's debugfs folder (DIR/kvm) of as many VMs, for
                                           kvm_stat's debugfs mode beside the sampler benchmark

File contents follow the kernel's formats (proc(5), Documentation/scheduler/sched-stats.rst,
cgroup-v2.rst); the numbers of t1 are those of t0 plus the deltas the tests assert.
"""
import os
import sys

# Raised whenever the bench tree's contents change (2: stat lines give num_threads).
BENCH_TREE_VERSION = 2


def write(root, path, text):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def stat_line(tid, comm, utime, stime, guest, cpu, threads=0):
    # 52 fields; 14 utime, 15 stime, 20 num_threads (the whole process's; 0 in the fixtures, which
    # keep the sampler's path for lines without it), 39 processor, 43 guest_time.
    f = ["0"] * 52
    f[0], f[1], f[2] = str(tid), f"({comm})", "R"
    f[13], f[14], f[19], f[38], f[42] = str(utime), str(stime), str(threads), str(cpu), str(guest)
    return " ".join(f) + "\n"


def sched_text(tid, comm, vol, invol, migrations):
    return (f"{comm} ({tid}, #threads: 1)\n" + "-" * 67 + "\n"
            f"se.exec_start                                :       3052229.434812\n"
            f"se.nr_migrations                             :                    {migrations}\n"
            f"nr_switches                                  :                   {vol + invol}\n"
            f"nr_voluntary_switches                        :                   {vol}\n"
            f"nr_involuntary_switches                      :                   {invol}\n"
            f"se.load.weight                               :              1048576\n")


# Every line /proc/PID/sched shows on a 6.1 kernel with CONFIG_SCHEDSTATS (kernel/sched/debug.c,
# proc_sched_show_task), in its order: the benchmark tree uses the full file (~3.5 KB) so the
# sampler parses what a real host gives it, not a shortened copy.
SCHED_KEYS = [
    "se.exec_start", "se.vruntime", "se.sum_exec_runtime", "se.nr_migrations", "sum_sleep_runtime",
    "sum_block_runtime", "wait_start", "sleep_start", "block_start", "sleep_max", "block_max", "exec_max",
    "slice_max", "wait_max", "wait_sum", "wait_count", "iowait_sum", "iowait_count", "nr_migrations_cold",
    "nr_failed_migrations_affine", "nr_failed_migrations_running", "nr_failed_migrations_hot",
    "nr_forced_migrations", "nr_wakeups", "nr_wakeups_sync", "nr_wakeups_migrate", "nr_wakeups_local",
    "nr_wakeups_remote", "nr_wakeups_affine", "nr_wakeups_affine_attempts", "nr_wakeups_passive",
    "nr_wakeups_idle", "avg_atom", "avg_per_cpu", "nr_switches", "nr_voluntary_switches",
    "nr_involuntary_switches", "se.load.weight", "se.avg.load_sum", "se.avg.runnable_sum", "se.avg.util_sum",
    "se.avg.load_avg", "se.avg.runnable_avg", "se.avg.util_avg", "se.avg.last_update_time",
    "se.avg.util_est.ewma", "se.avg.util_est.enqueued", "uclamp.min", "uclamp.max", "effective uclamp.min",
    "effective uclamp.max", "policy", "prio", "clock-delta", "mm->numa_scan_seq", "numa_pages_migrated",
    "numa_preferred_nid", "total_numa_faults",
]


def full_sched_text(tid, comm, vol, invol, migrations):
    values = {"se.nr_migrations": migrations, "nr_switches": vol + invol, "nr_voluntary_switches": vol,
              "nr_involuntary_switches": invol, "wait_sum": "412.533912"}
    lines = [f"{comm} ({tid}, #threads: 1)", "-" * 67]
    lines += [f"{key:<45}:{str(values.get(key, '3052229.434812')):>21}" for key in SCHED_KEYS]
    return "\n".join(lines) + "\n"


def status_text(comm, vol, invol, cpus):
    return (f"Name:\t{comm}\nState:\tR (running)\nCpus_allowed_list:\t{cpus}\n"
            f"voluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t{invol}\n")


def thread(root, pid, tid, comm, t, sched=True, cpus="0-3", full_sched=False, threads=0):
    """t: dict with on, delay, ut, st, gt, cpu, vol, invol, mig; threads: the process's thread count."""
    base = f"/proc/{pid}/task/{tid}"
    write(root, base + "/comm", comm + "\n")
    write(root, base + "/stat", stat_line(tid, comm, t["ut"], t["st"], t["gt"], t["cpu"], threads))
    write(root, base + "/schedstat", f"{t['on']} {t['delay']} {t.get('slices', 10)}\n")
    write(root, base + "/status", status_text(comm, t["vol"], t["invol"], cpus))
    if sched:
        text = full_sched_text if full_sched else sched_text
        write(root, base + "/sched", text(tid, comm, t["vol"], t["invol"], t["mig"]))


def process(root, pid, comm, argv, cgroup):
    write(root, f"/proc/{pid}/comm", comm + "\n")
    write(root, f"/proc/{pid}/cmdline", "\0".join(argv) + "\0")
    write(root, f"/proc/{pid}/cgroup", cgroup)


def host(root, cpus, stat_rows, interrupts, mounts, flags):
    lines = []
    total = [sum(x) for x in zip(*stat_rows)]
    lines.append("cpu  " + " ".join(map(str, total)))
    for i, row in enumerate(stat_rows):
        lines.append(f"cpu{i} " + " ".join(map(str, row)))
    lines.append("intr 12345 0 0\nctxt 99999\nbtime 1700000000\n")
    write(root, "/proc/stat", "\n".join(lines))
    header = " " * 11 + "".join(f"CPU{i:<8}" for i in range(cpus)).rstrip() + "\n"
    body = ""
    for irq, counts, desc in interrupts:
        body += f"{irq:>4}: " + " ".join(f"{c:>10}" for c in counts) + "  " + desc + "\n"
    write(root, "/proc/interrupts", header + body)
    write(root, "/proc/mounts", mounts)
    cpuinfo = "".join(f"processor\t: {i}\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu {flags}\n\n" for i in range(cpus))
    write(root, "/proc/cpuinfo", cpuinfo)
    write(root, "/proc/1/comm", "systemd\n")
    write(root, "/proc/1/cmdline", "/sbin/init\0")


def T(on, delay, ut, st, gt, cpu, vol, invol, mig):
    return dict(on=on, delay=delay, ut=ut, st=st, gt=gt, cpu=cpu, vol=vol, invol=invol, mig=mig)


def libvirt_v2(root, step):
    """A libvirt host, cgroup v2 only, two QEMU VMs. step 0 or 1 (one second later)."""
    s = step
    mounts = ("sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n"
              "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n")
    # user nice system idle iowait irq softirq steal guest guest_nice; +100 ticks per CPU per step.
    rows = [[1000 + 60 * s, 0, 500 + 20 * s, 8000 + 20 * s, 0, 0, 0, 0, 900 + 55 * s, 0],
            [2000 + 10 * s, 0, 700 + 10 * s, 9000 + 80 * s, 0, 0, 0, 0, 100, 0],
            [100, 0, 100, 9800 + 100 * s, 0, 0, 0, 0, 0, 0],
            [100, 0, 100, 9800 + 100 * s, 0, 0, 0, 0, 0, 0]]
    irqs = [("24", [10, 0, 0, 0], "IO-APIC   5-edge      ACPI:Ged"),
            ("36", [0, 100 + 9000 * s, 0, 0], "PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0"),
            ("LOC", [5000 + 250 * s, 5000 + 250 * s, 5000 + 250 * s, 5000 + 250 * s], "Local timer interrupts")]
    host(root, 4, rows, irqs, mounts, "svm")
    scope1 = "/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope"
    process(root, 4100, "qemu-system-x86",
            ["/usr/bin/qemu-system-x86_64", "-name", "guest=web01,debug-threads=on", "-S", "-object",
             "secret,id=masterKey0,format=raw,file=/var/lib/libvirt/qemu/domain-1-web01/master-key.aes",
             "-machine", "pc-q35-8.2,usb=off", "-smp", "2", "-uuid", "6f1e2c8a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"],
            f"0::{scope1}/libvirt/emulator\n")
    thread(root, 4100, 4100, "qemu-system-x86", T(50_000_000 + 10_000_000 * s, 1_000_000, 5, 3, 0, 0, 10, 1, 0))
    thread(root, 4100, 4101, "call_rcu", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0))
    thread(root, 4100, 4103, "IO iothread1", T(20_000_000 + 30_000_000 * s, 2_000_000, 1, 2, 0, 2, 50, 2, 0))
    thread(root, 4100, 4104, "CPU 0/KVM", T(10_000_000_000 + 600_000_000 * s, 400_000_000 + 80_000_000 * s,
                                           900 + 60 * s, 50 + 2 * s, 880 + 55 * s, 1, 1000 + 100 * s, 200 + 20 * s, 30 + 3 * s))
    thread(root, 4100, 4105, "CPU 1/KVM", T(5_000_000_000 + 200_000_000 * s, 100_000_000 + 5_000_000 * s,
                                           400 + 20 * s, 20, 390 + 19 * s, 0, 500 + 40 * s, 50 + 1 * s, 12))
    thread(root, 4100, 4106, "vhost-4100", T(3_000_000 + 7_000_000 * s, 0, 0, 1, 0, 1, 5, 0, 0))
    write(root, f"/sys/fs/cgroup{scope1}/cpu.stat",
          f"usage_usec {15_100_000 + 850_000 * s}\nuser_usec {13_000_000 + 800_000 * s}\n"
          f"system_usec {2_100_000 + 50_000 * s}\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n")
    scope2 = "/machine.slice/machine-qemu\\x2d2\\x2ddb02.scope"
    process(root, 4200, "qemu-system-x86",
            ["/usr/bin/qemu-system-x86_64", "-name", "guest=db,,02,debug-threads=on", "-uuid",
             "0a0b0c0d-1111-2222-3333-444455556666"],
            f"0::{scope2}/libvirt/emulator\n")
    thread(root, 4200, 4200, "qemu-system-x86", T(1_000_000, 0, 0, 0, 0, 3, 1, 0, 0))
    thread(root, 4200, 4210, "CPU 0/KVM", T(1_000_000_000 + 900_000_000 * s, 0, 100 + 90 * s, 0, 95 + 88 * s, 3, 10, 0, 0),
           cpus="2-3")
    write(root, f"/sys/fs/cgroup{scope2}/cpu.stat",
          f"usage_usec {1_001_000 + 900_000 * s}\nuser_usec {1_000_000 + 890_000 * s}\nsystem_usec {1_000 + 10_000 * s}\n")
    # An old-style vhost kernel thread of db02: its own pid, in no VM's task list.
    process(root, 4250, "vhost-4200", [], "0::/\n")
    thread(root, 4250, 4250, "vhost-4200", T(2_000_000 + 4_000_000 * s, 0, 0, 0, 0, 2, 0, 0, 0))
    # A process that is not a VM, to be ignored.
    process(root, 900, "sshd", ["/usr/sbin/sshd", "-D"], "0::/system.slice/ssh.service\n")


def firecracker_v1(root, step):
    """A cgroup v1 host without /proc/.../sched (no CONFIG_SCHED_DEBUG): Firecracker, Cloud Hypervisor, crosvm."""
    s = step
    mounts = ("proc /proc proc rw 0 0\ntmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
              "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0\n"
              "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n")
    rows = [[500 + 50 * s, 0, 300 + 40 * s, 5000 + 10 * s, 0, 0, 0, 0, 400 + 45 * s, 0],
            [500 + 50 * s, 0, 300 + 40 * s, 5000 + 10 * s, 0, 0, 0, 0, 400 + 45 * s, 0]]
    irqs = [("LOC", [100 + 250 * s, 100 + 250 * s], "Local timer interrupts")]
    host(root, 2, rows, irqs, mounts, "vmx")
    process(root, 7000, "firecracker",
            ["/usr/bin/firecracker", "--id", "vm-a", "--api-sock", "/run/fc/vm-a.sock"],
            "4:memory:/firecracker/vm-a\n3:cpu,cpuacct:/firecracker/vm-a\n0::/\n")
    thread(root, 7000, 7000, "firecracker", T(4_000_000 + 1_000_000 * s, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7000, 7001, "fc_api", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7000, 7002, "fc_vcpu 0", T(2_000_000_000 + 450_000_000 * s, 10_000_000 + 150_000_000 * s,
                                           200 + 45 * s, 5, 190 + 44 * s, 0, 300 + 7 * s, 40 + 30 * s, 0), sched=False)
    thread(root, 7000, 7003, "fc_vcpu 1", T(1_000_000_000, 0, 100, 0, 95, 1, 300, 40, 0), sched=False)
    write(root, "/sys/fs/cgroup/cpu,cpuacct/firecracker/vm-a/cpuacct.usage", f"{3_005_000_000 + 451_000_000 * s}\n")
    write(root, "/sys/fs/cgroup/cpu,cpuacct/firecracker/vm-a/cpuacct.stat", f"user {290 + 45 * s}\nsystem {10}\n")
    process(root, 7100, "cloud-hyperviso",
            ["/usr/local/bin/cloud-hypervisor", "--api-socket", "/tmp/ch.sock", "--cpus", "boot=2"],
            "3:cpu,cpuacct:/\n0::/\n")
    thread(root, 7100, 7100, "cloud-hyperviso", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7100, 7101, "vcpu0", T(1_000_000 + 100_000_000 * s, 0, 10 * s, 0, 10 * s, 1, 1, 0, 0), sched=False)
    thread(root, 7100, 7102, "vcpu1", T(1_000_000, 0, 0, 0, 0, 1, 1, 0, 0), sched=False)
    thread(root, 7100, 7103, "_disk0_q0", T(5_000_000 * s, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7100, 7104, "http-server", T(1_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    process(root, 7200, "crosvm", ["/usr/bin/crosvm", "run", "--cpus", "1", "vmlinux"], "3:cpu,cpuacct:/\n0::/\n")
    thread(root, 7200, 7200, "crosvm", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7200, 7201, "crosvm_vcpu0", T(2_000_000 + 1_000_000 * s, 0, 0, 0, 0, 1, 1, 0, 0), sched=False)
    # hvtax itself taking the snapshot (not a VM), and `hvtax workload` (a VM).
    process(root, 7300, "hvtax", ["/usr/local/bin/hvtax", "snapshot", "--count", "3"], "0::/\n")
    thread(root, 7300, 7300, "hvtax", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    process(root, 7400, "hvtax", ["/usr/local/bin/hvtax", "workload", "--name", "guest=calib", "--vcpus", "1"], "0::/\n")
    thread(root, 7400, 7400, "hvtax", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), sched=False)
    thread(root, 7400, 7401, "CPU 0/KVM", T(1_000_000 + 750_000_000 * s, 0, 0, 75 * s, 0, 1, 1, 0, 0), sched=False)


def bench(root, vms, vcpus):
    mounts = "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
    cpus = 64
    rows = [[1000, 0, 500, 8000, 0, 0, 0, 0, 900, 0] for _ in range(cpus)]
    irqs = [(str(24 + i), [i * 7] * cpus, f"PCI-MSIX-0000:00:{i:02x}.0   1-edge      virtio{i}-req.0") for i in range(40)]
    irqs.append(("LOC", [5000] * cpus, "Local timer interrupts"))
    host(root, cpus, rows, irqs, mounts, "svm")
    for p in range(200, 600):  # host processes that are not VMs
        process(root, p, "kworker/u8:1", [], "0::/\n")
    for v in range(vms):
        pid = 10000 + v * 100
        scope = f"/machine.slice/machine-qemu\\x2d{v}\\x2dvm{v}.scope"
        process(root, pid, "qemu-system-x86",
                ["/usr/bin/qemu-system-x86_64", "-name", f"guest=vm{v},debug-threads=on", "-uuid", f"00000000-0000-0000-0000-{v:012d}"],
                f"0::{scope}/libvirt/emulator\n")
        # Every stat line has the process's thread count, as a kernel writes it.
        n = 3 + vcpus
        thread(root, pid, pid, "qemu-system-x86", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), threads=n)
        thread(root, pid, pid + 1, "call_rcu", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), threads=n)
        thread(root, pid, pid + 2, "IO iothread1", T(1_000_000, 0, 0, 0, 0, 0, 1, 0, 0), threads=n)
        for c in range(vcpus):
            thread(root, pid, pid + 10 + c, f"CPU {c}/KVM", T(10**10, 10**8, 900, 50, 880, c % cpus, 1000, 200, 30),
                   full_sched=True, threads=n)
        write(root, f"/sys/fs/cgroup{scope}/cpu.stat", "usage_usec 15100000\nuser_usec 13000000\nsystem_usec 2100000\n")


# The files KVM creates in debugfs on a 6.1 x86 host (virt/kvm/kvm_main.c kvm_init_debug and
# kvm_create_vm_debugfs; the names are the stats descriptors of include/linux/kvm_host.h and
# arch/x86/kvm/x86.c; the three histograms kvm_stat exempts are left out): one file per statistic at
# the top (summed over VMs) and in each VM's PID-FD folder, and a vcpuN folder per vCPU.
KVM_VM_STATS = ["remote_tlb_flush", "remote_tlb_flush_requests", "mmu_shadow_zapped", "mmu_pte_write",
                "mmu_pde_zapped", "mmu_flooded", "mmu_recycled", "mmu_cache_miss", "mmu_unsync", "pages_4k",
                "pages_2m", "pages_1g", "nx_lpage_splits", "max_mmu_rmap_size", "max_mmu_page_hash_collisions"]
KVM_VCPU_STATS = ["halt_successful_poll", "halt_attempted_poll", "halt_poll_invalid", "halt_wakeup",
                  "halt_poll_success_ns", "halt_poll_fail_ns", "halt_wait_ns", "blocking", "pf_taken", "pf_fixed",
                  "pf_emulate", "pf_spurious", "pf_fast", "pf_mmio_spte_created", "pf_guest", "tlb_flush", "invlpg",
                  "exits", "io_exits", "mmio_exits", "signal_exits", "irq_window_exits", "nmi_window_exits",
                  "l1d_flush", "halt_exits", "request_irq_exits", "irq_exits", "host_state_reload", "fpu_reload",
                  "insn_emulation", "insn_emulation_fail", "hypercalls", "irq_injections", "nmi_injections",
                  "req_event", "nested_run", "directed_yield_attempted", "directed_yield_successful",
                  "preemption_reported", "preemption_other", "guest_mode", "notify_window_exits"]
KVM_VCPU_DEBUGFS = ["guest_mode", "tsc-offset", "lapic_timer_advance_ns", "tsc-scaling-ratio",
                    "tsc-scaling-ratio-frac-bits", "pid"]


def kvm_debugfs(root, vms, vcpus):
    """DIR/kvm as KVM's debugfs folder of VMS VMs x VCPUS vCPUs, and DIR/cpuinfo with vmx, for
    kvm_stat's debugfs mode (scripts/bench/live-sampler.sh runs it in a private mount namespace)."""
    stats = KVM_VM_STATS + KVM_VCPU_STATS
    for name in stats:
        write(root, f"/kvm/{name}", f"{vms * 1000}\n")
    for v in range(vms):
        vm = f"/kvm/{10000 + v * 100}-{11 + v}"
        for name in stats:
            write(root, f"{vm}/{name}", "1000\n")
        for c in range(vcpus):
            for name in KVM_VCPU_DEBUGFS:
                write(root, f"{vm}/vcpu{c}/{name}", "0\n")
    write(root, "/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse tsc msr vmx\n\n")


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "fixtures":
        for step in (0, 1):
            libvirt_v2(os.path.join(out, "live-libvirt-v2", f"t{step}"), step)
            firecracker_v1(os.path.join(out, "live-firecracker-v1", f"t{step}"), step)
    elif mode == "bench":
        vms = int(sys.argv[3]) if len(sys.argv) > 3 else 100
        vcpus = int(sys.argv[4]) if len(sys.argv) > 4 else 8
        bench(out, vms, vcpus)
        # What live-sampler.sh and ab-sampler.py check to regenerate a tree an older generator wrote.
        write(out, "/TREE-VERSION", f"{BENCH_TREE_VERSION}\n")
    elif mode == "kvm-debugfs":
        vms = int(sys.argv[3]) if len(sys.argv) > 3 else 100
        vcpus = int(sys.argv[4]) if len(sys.argv) > 4 else 8
        kvm_debugfs(out, vms, vcpus)
    else:
        sys.exit(__doc__)
