import HVTaxModel

/// Is there a KVM at all, which kind, and can this user drive it.
enum KVMChecks {
    static func virtualization(_ c: DoctorContext) -> Verdict {
        let sources = ["/proc/cpuinfo"] + c.moduleSources
        let info: CPUInfo
        switch c.cpuInfo {
        case .success(let value): info = value
        case .failure(let error):
            return Verdict(.fail, "cannot tell: \(error)", remedy: "mount procfs: mount -t proc proc /proc", sources: sources)
        }
        let nested = info.flags.contains("hypervisor") ? "; this host is itself a guest (nested)" : ""
        switch c.backend {
        case .intelVMX:
            return Verdict(
                .pass, "Intel VT-x (vmx flag): guest code runs on the CPU and each exit is a kvm_exit/kvm_entry pair\(nested)",
                sources: sources)
        case .amdSVM:
            return Verdict(
                .pass, "AMD-V (svm flag): guest code runs on the CPU and each exit is a kvm_exit/kvm_entry pair\(nested)",
                sources: sources)
        case .paravirtual(let module):
            let state = c.moduleState(module)
            let param = c.paravirtualNestingParameter.map { ", \($0)" } ?? ""
            return Verdict(
                .warn,
                "paravirtual KVM (\(module) \(state.rawValue)\(param)), no vmx/svm flag: guest code is emulated by the host "
                    + "kernel, and the kvm_exit/kvm_entry tracepoints do not fire",
                remedy: "here hvtax sees exits to userspace (kvm_userspace_exit, kvm_pio, kvm_mmio); measure hardware exits "
                    + "on a VT-x/AMD-V host",
                sources: sources + ["/proc/cmdline"])
        case .none:
            if case .present(_, .answered(apiVersion: LiveKVMDeviceProbe.expectedAPIVersion, _)) = c.kvmDevice {
                return Verdict(
                    .warn, "no vmx/svm flag and no known paravirtual module, yet /dev/kvm answers: unknown KVM backend",
                    remedy: "report this host's /proc/cpuinfo flags and /sys/module list to hvtax", sources: sources)
            }
            let remedy =
                info.flags.contains("hypervisor")
                ? "this host is a guest: enable nested virtualization on its hypervisor (e.g. -cpu host, kvm_intel nested=1)"
                : "enable VT-x / AMD-V (SVM) in the firmware setup"
            return Verdict(
                .fail, "no vmx or svm flag and no paravirtual KVM module: this host cannot run KVM guests",
                remedy: remedy, sources: sources)
        }
    }

    static func modules(_ c: DoctorContext) -> Verdict {
        let sources = c.moduleSources
        if case .failure(let error) = c.loadedModules {
            return Verdict(.fail, "cannot tell: \(error)", remedy: "mount procfs: mount -t proc proc /proc", sources: sources)
        }
        let names = ["kvm", "kvm_intel", "kvm_amd"] + KVMBackend.paravirtualModules
        let present = names.compactMap { name -> String? in
            let state = c.moduleState(name)
            return state == .absent ? nil : "\(name) (\(state.rawValue))"
        }
        let noModuleSupport =
            if case .success(.none) = c.loadedModules {
                "; no /proc/modules: the kernel has no module support, so KVM can only be built in"
            } else { "" }
        let found = present.isEmpty ? "none of kvm, kvm_intel, kvm_amd, kvm_pvm" : present.joined(separator: ", ")
        let wanted = c.backend.moduleName ?? c.vendorModule
        let load = wanted.map { "modprobe \($0)" } ?? "modprobe kvm_intel (Intel) or kvm_amd (AMD)"

        if c.moduleState("kvm") == .absent {
            return Verdict(.fail, "kvm is not loaded: \(found)\(noModuleSupport)", remedy: load, sources: sources)
        }
        if let wanted, c.moduleState(wanted) == .absent {
            return Verdict(
                .fail, "\(found), but not \(wanted), which this CPU needs\(noModuleSupport)", remedy: load, sources: sources)
        }
        if c.backend == .none {
            return Verdict(
                .warn, "\(found), but no backend module that this CPU can use\(noModuleSupport)",
                remedy: "enable VT-x / AMD-V, then \(load)", sources: sources)
        }
        return Verdict(.pass, "\(found)\(noModuleSupport)", sources: sources)
    }

    static func device(_ c: DoctorContext) -> Verdict {
        let path = DoctorContext.kvmDevicePath
        let sources = [path + " (stat, open, KVM_GET_API_VERSION, KVM_CREATE_VM)"]
        let status: FileStatus
        let outcome: KVMOpenOutcome
        switch c.kvmDevice {
        case .unavailable(let error):
            let remedy =
                error.isNotFound
                ? "load KVM (\(c.backend.moduleName.map { "modprobe \($0)" } ?? "modprobe kvm_intel or kvm_amd")); "
                    + "in a container pass --device /dev/kvm"
                : "check the device node: ls -l /dev/kvm"
            return Verdict(.fail, error.isNotFound ? "missing" : "\(error)", remedy: remedy, sources: sources)
        case .present(let s, let o):
            status = s
            outcome = o
        }
        let owner = "\(c.accounts.user(status.uid)):\(c.accounts.group(status.gid))"
        let node = "\(status.modeString) \(owner)"
            + (status.kind == .characterDevice ? " \(status.deviceMajor):\(status.deviceMinor)" : "")
        let who = c.isRoot ? "root" : "user \(c.userName)"
        // A root-only node is worth saying even when we are root: the same capture as a user fails.
        let sharedReadWrite = status.permissions & 0o060 == 0o060 || status.permissions & 0o006 == 0o006
        let rootOnly =
            status.kind == .characterDevice && status.uid == 0 && !sharedReadWrite ? " (only root can open it)" : ""
        let groupRemedy: String = {
            let group = c.accounts.group(status.gid)
            return status.gid == 0
                ? "run as root, or give the device a kvm group: chgrp kvm /dev/kvm && chmod 660 /dev/kvm"
                : "add the user to group \(group) (usermod -aG \(group) \(c.userName)) and log in again, or run as root"
        }()

        switch outcome {
        case .notAttempted(let reason):
            let status: DoctorStatus = status.kind == .characterDevice || !c.host.fs.isLiveRoot ? .info : .fail
            return Verdict(status, "\(node)\(rootOnly); \(reason)", sources: sources)
        case .openFailed(let error):
            let remedy = error.isPermissionDenied ? groupRemedy : "see dmesg for why the KVM device refuses to open"
            return Verdict(
                .fail, "\(node), but opening it read-write as \(who) fails: \(error.cause)", remedy: remedy, sources: sources)
        case .apiVersionFailed(let error):
            return Verdict(
                .fail, "\(node) opens, but KVM_GET_API_VERSION fails: \(error.cause)",
                remedy: "this node is not the KVM device (expected character device 10:232)", sources: sources)
        case .answered(let version, let createVM):
            guard version == LiveKVMDeviceProbe.expectedAPIVersion else {
                return Verdict(
                    .fail, "\(node): KVM_GET_API_VERSION answers \(version), not \(LiveKVMDeviceProbe.expectedAPIVersion)",
                    remedy: "this kernel's KVM API is not one hvtax knows", sources: sources)
            }
            switch createVM {
            case .created, .notTried:
                let vm = createVM == .created ? ", KVM_CREATE_VM ok" : ""
                return Verdict(
                    .pass, "\(node)\(rootOnly), opened read-write as \(who): KVM_GET_API_VERSION \(version)\(vm)",
                    sources: sources)
            case .failed(let error):
                return Verdict(
                    .fail, "\(node): API \(version), but KVM_CREATE_VM fails: \(error.cause)",
                    remedy: "see dmesg; another hypervisor holding VT-x/AMD-V (VirtualBox, VMware) is the usual cause",
                    sources: sources)
            }
        }
    }
}

extension DoctorContext {
    /// The kernel parameter that enables the paravirtual backend's nesting, when given, so the
    /// report shows how this host was set up.
    var paravirtualNestingParameter: String? {
        guard let cmdline = try? commandLine.get() else { return nil }
        for key in ["nested_pvm", "kvm_pvm.nested"] {
            if let value = cmdline.value(key) { return "\(key)=\(value)" }
        }
        return nil
    }
}
