/// Every metric hvtax exports, in one place: names follow Prometheus' conventions (base units,
/// `_total` on counters, ratios 0-1), and docs/metrics.md documents each of them.
///
/// Counters built from the live view count from the moment the exporter started watching a VM
/// (the live view samples deltas); `rate()` and `increase()` are what to use on them.
public enum MetricCatalogue {
    // MARK: vCPUs
    public static let vcpuSeconds = MetricDescriptor(
        "hvtax_vcpu_seconds", .counter, unit: "seconds", labels: ["vm", "vcpu", "state"],
        help: "vCPU thread wall time by state: guest (guest code), hypervisor (host kernel/KVM), vmm (VMM userspace on the vCPU thread), steal (runnable, waiting for a CPU), idle (not runnable); unknown only from traces.")
    public static let vcpuOnCPU = MetricDescriptor(
        "hvtax_vcpu_on_cpu_ratio", .gauge, unit: "ratio", labels: ["vm", "vcpu"],
        help: "Share of the last interval the vCPU thread was on a CPU (schedstat).")
    public static let vcpuSteal = MetricDescriptor(
        "hvtax_vcpu_steal_ratio", .gauge, unit: "ratio", labels: ["vm", "vcpu"],
        help: "Share of the last interval the vCPU thread was runnable but waiting for a CPU (schedstat run delay): the steal the guest sees.")
    public static let vcpuContextSwitches = MetricDescriptor(
        "hvtax_vcpu_context_switches", .counter, labels: ["vm", "vcpu", "kind"],
        help: "Context switches of the vCPU thread, kind voluntary or involuntary.")
    public static let vcpuMigrations = MetricDescriptor(
        "hvtax_vcpu_migrations", .counter, labels: ["vm", "vcpu"],
        help: "Moves of the vCPU thread between host CPUs (se.nr_migrations; absent where the kernel does not expose it).")

    // MARK: VMs
    public static let vm = MetricDescriptor(
        "hvtax_vm", .info, labels: ["vm", "pid", "kind", "uuid"],
        help: "One series per VM found on the host: its VMM process, kind and UUID.")
    public static let vmVCPUs = MetricDescriptor(
        "hvtax_vm_vcpus", .gauge, labels: ["vm"], help: "vCPU threads of the VM.")
    public static let vmTax = MetricDescriptor(
        "hvtax_vm_tax_ratio", .gauge, unit: "ratio", labels: ["vm"],
        help: "The hypervisor tax: share of the VM's on-CPU time (vCPU and VMM threads) not spent running guest code, over the last interval.")
    public static let vmVMMOverhead = MetricDescriptor(
        "hvtax_vm_vmm_overhead_ratio", .gauge, unit: "ratio", labels: ["vm"],
        help: "Share of the VM's on-CPU time spent in its VMM's own threads (emulator, I/O, vhost), over the last interval.")
    public static let vmSteal = MetricDescriptor(
        "hvtax_vm_steal_ratio", .gauge, unit: "ratio", labels: ["vm"],
        help: "Mean steal of the VM's vCPUs over the last interval.")
    public static let vmVMMThreadSeconds = MetricDescriptor(
        "hvtax_vm_vmm_thread_seconds", .counter, unit: "seconds", labels: ["vm", "role"],
        help: "On-CPU time of the VMM's non-vCPU threads by role: emulator, io, vhost.")
    public static let vmCgroupUsage = MetricDescriptor(
        "hvtax_vm_cgroup_usage_seconds", .counter, unit: "seconds", labels: ["vm"],
        help: "CPU usage of the VM's cgroup (cpuacct.usage or cpu.stat usage_usec): every thread in it, precise.")
    public static let vmCgroupCPU = MetricDescriptor(
        "hvtax_vm_cgroup_cpu_seconds", .counter, unit: "seconds", labels: ["vm", "mode"],
        help: "The VM cgroup's user and system time (cpuacct.stat or cpu.stat user_usec/system_usec; tick sampled on older kernels).")
    public static let vmExits = MetricDescriptor(
        "hvtax_vm_exits", .counter, labels: ["vm", "reason"],
        help: "VM exits (or counted kvm tracepoints) by reason: kvm_exit:REASON, kvm_userspace_exit:REASON, kvm_pio... from tracepoint counters; reason=\"all\" from KVM debugfs. Absent when no exit source is available (see hvtax_collector_up).")
    public static let exitDuration = MetricDescriptor(
        "hvtax_exit_duration_seconds", .histogram, unit: "seconds", labels: ["vm"],
        help: "Time from VM exit to the next entry of the same vCPU (power-of-two buckets), from traces.")
    public static let guestAccesses = MetricDescriptor(
        "hvtax_guest_accesses", .counter, labels: ["vm", "access", "device", "path"],
        help: "Guest port I/O and MMIO accesses from traces (kvm_pio, kvm_mmio), by address as perf kvm stat keys it (0x3f8:POUT, 0xfee000b0:W), the PC device usually there, and whether the VMM emulated them (path vmm, kernel, or unknown without kvm_userspace_exit events); the 32 busiest addresses per VM.")
    public static let traceEvents = MetricDescriptor(
        "hvtax_trace_events", .counter, labels: ["event"],
        help: "Events the tracing collector of hvtax serve decoded since it started, by tracepoint (kvm_exit, kvm_entry, kvm_userspace_exit, sched_switch...). Only with tracing enabled.")
    public static let accountingDiscrepancy = MetricDescriptor(
        "hvtax_accounting_discrepancy_ratio", .gauge, unit: "ratio", labels: ["vm", "source", "reference"],
        help: "|source - reference| / reference over the last interval, as hvtax validate compares CPU accounting sources (vm=\"\" for host-wide comparisons).")

    // MARK: host
    public static let hostCPU = MetricDescriptor(
        "hvtax_host_cpu_ratio", .gauge, unit: "ratio", labels: ["mode"],
        help: "Share of all host CPUs' time by /proc/stat mode over the last interval; guest is also inside user.")
    public static let hostInterrupts = MetricDescriptor(
        "hvtax_host_interrupts", .counter, help: "Interrupts on all host CPUs (/proc/interrupts).")
    public static let hostInterruptStorms = MetricDescriptor(
        "hvtax_host_interrupt_storms", .gauge, labels: ["cause"],
        help: "Interrupt storms in the last interval, by cause: above-baseline or on-vcpu-cpus.")
    public static let noisyNeighbour = MetricDescriptor(
        "hvtax_noisy_neighbour", .gauge, labels: ["victim", "neighbour"],
        help: "1 for each VM pair where the victim's steal rose while the neighbour's demand on shared CPUs rose, in the last interval.")
    public static let vms = MetricDescriptor("hvtax_vms", .gauge, help: "VMs found on the host.")

    // MARK: the exporter itself
    public static let collectorUp = MetricDescriptor(
        "hvtax_collector_up", .gauge, labels: ["collector", "needs_root"],
        help: "1 when the collector read data in the last interval, 0 when it could not (needs_root says whether root would help).")
    public static let samples = MetricDescriptor("hvtax_samples", .counter, help: "Intervals sampled since start.")
    public static let sampleInterval = MetricDescriptor(
        "hvtax_sample_interval_seconds", .gauge, unit: "seconds", help: "Length of the last interval.")
    public static let lastSample = MetricDescriptor(
        "hvtax_last_sample_timestamp_seconds", .gauge, unit: "seconds", help: "Unix time the last interval ended.")
    public static let samplerCPU = MetricDescriptor(
        "hvtax_sampler_cpu_seconds", .counter, unit: "seconds", help: "CPU time hvtax spent reading the host's counters.")
    public static let samplerFiles = MetricDescriptor(
        "hvtax_sampler_files_read", .gauge, help: "Files read for the last sample.")

    // MARK: hvtax serve
    public static let thresholdLevel = MetricDescriptor(
        "hvtax_threshold_level", .gauge, labels: ["scope", "vm", "figure"],
        help: "Level of a watched figure after hysteresis: 0 ok, 1 warning, 2 critical; scope host (vm=\"\") or vm; figure tax, steal or exits_per_second.")
    public static let actions = MetricDescriptor(
        "hvtax_actions", .counter, labels: ["outcome"],
        help: "Threshold actions (command or webhook) by outcome: ran, failed, dry-run, rate-limited.")
    public static let historyRows = MetricDescriptor(
        "hvtax_history_rows", .gauge, labels: ["resolution"], help: "Rows in the history database: raw intervals and minute averages.")
    public static let historyWriteFailures = MetricDescriptor(
        "hvtax_history_write_failures", .counter, help: "Intervals the history could not store.")

    /// Every family the live view (`HostSnapshot`), traces (`TraceReport`) and `hvtax serve` produce, in exposition order.
    public static let all: [MetricDescriptor] = [
        vcpuSeconds, vcpuOnCPU, vcpuSteal, vcpuContextSwitches, vcpuMigrations,
        vm, vmVCPUs, vmTax, vmVMMOverhead, vmSteal, vmVMMThreadSeconds, vmCgroupUsage, vmCgroupCPU, vmExits, exitDuration, guestAccesses, traceEvents,
        accountingDiscrepancy,
        hostCPU, hostInterrupts, hostInterruptStorms, noisyNeighbour, vms,
        collectorUp, samples, sampleInterval, lastSample, samplerCPU, samplerFiles,
        thresholdLevel, actions, historyRows, historyWriteFailures,
    ]
}
