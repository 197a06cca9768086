#!/usr/bin/env python3
"""Regenerate Sources/HVTaxModel/ExitReasonTables.swift from a kernel's kvm_exit format file.

Usage: scripts/gen-exit-reasons.py [/sys/kernel/tracing/events/kvm/kvm_exit/format]
The tables come from the kernel's print fmt (__print_symbolic for isa == 1 (VMX) and for SVM).
"""
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "/sys/kernel/tracing/events/kvm/kvm_exit/format"
fmt = open(path).read()
m = re.search(r'\(REC->isa == 1\) \? __print_symbolic\(REC->exit_reason & 0xffff, (.*?)\) : '
              r'__print_symbolic\(REC->exit_reason, (.*?), \{ -1, "invalid_guest_state" \}\)', fmt, re.S)
if not m:
    sys.exit(f"{path}: no VMX/SVM __print_symbolic tables in the print fmt")


def pairs(s):
    return [(eval(a), b) for a, b in re.findall(r'\{ ([^,]+), "([^"]+)" \}', s)]


vmx, svm = pairs(m.group(1)), pairs(m.group(2))
out = open("Sources/HVTaxModel/ExitReasonTables.swift", "w")
out.write("""// Generated from the kernel's own kvm_exit event format (print fmt, __print_symbolic), read on
// this machine at /sys/kernel/tracing/events/kvm/kvm_exit/format (kernel 6.18). The same tables are
// VMX_EXIT_REASONS in asm/vmx.h and SVM_EXIT_REASONS in asm/svm.h. Regenerate, never hand-edit.

extension ExitReasonTable {
    /// Intel VMX basic exit reasons (the low 16 bits of the exit reason).
    public static let vmx: [UInt32: String] = [
""")
for a, b in vmx:
    out.write(f'        {a}: "{b}",\n')
out.write("""    ]

    /// AMD SVM exit codes.
    public static let svm: [UInt32: String] = [
""")
for a, b in svm:
    out.write(f'        0x{a:x}: "{b}",\n')
out.write('        0xffff_ffff: "invalid_guest_state",\n    ]\n}\n')
