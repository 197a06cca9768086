#!/usr/bin/env python3
"""Writes a synthetic `esxtop -b` capture of a given size, for the import benchmark.

The layout follows esxtop batch output: a PDH-CSV header, one quoted cell per counter, thousands
of columns (Physical Cpu, Group Cpu per VM and system group, Vcpu per world, and the memory,
disk and network columns a real capture carries and hvtax skips). Every VM's figures are
constant, so the expected per-vCPU values are known: VM i has %RDY = 2*(i % 8) per vCPU, %SYS 3,
%RUN 50, %OVRLP 1, %IDLE 40, %CSTP 0.5*(i % 4), %MLMTD 0.
"""
import argparse

COUNTERS = ["% Used", "% Run", "% System", "% Wait", "% VmWait", "% Ready", "% Idle", "% Overlap",
            "% CoStop", "% Max Limited", "% Swap Wait", "% Latency", "% Demand", "Switches/sec", "Migrates/sec"]


def per_vcpu(i):
    ready = 2.0 * (i % 8)
    costop = 0.5 * (i % 4)
    return {"% Used": 52.0, "% Run": 50.0, "% System": 3.0, "% Wait": 45.0, "% VmWait": 1.0,
            "% Ready": ready, "% Idle": 40.0, "% Overlap": 1.0, "% CoStop": costop,
            "% Max Limited": 0.0, "% Swap Wait": 0.0, "% Latency": ready + costop, "% Demand": 55.0,
            "Switches/sec": 120.0, "Migrates/sec": 3.0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=200, help="stop after this many MiB")
    ap.add_argument("--vms", type=int, default=60)
    ap.add_argument("--vcpus", type=int, default=4)
    ap.add_argument("--filler", type=int, default=3000, help="columns hvtax does not read")
    args = ap.parse_args()

    host = "\\\\esx01.example.com"
    header = ['"(PDH-CSV 4.0) (UTC)(0)"']
    values = []  # constant cell text per column, in header order
    for p in range(64):
        header.append(f'"{host}\\Physical Cpu({p})\\% Processor Time"')
        values.append('"37.5"')
    for gid, name in [(1, "idle"), (2, "system"), (3, "helper")]:
        for c in COUNTERS:
            header.append(f'"{host}\\Group Cpu({gid}:{name})\\{c}"')
            values.append('"10.0"')
    for i in range(args.vms):
        gid = 100000 + i * 100
        name = f"vm{i:03d}"
        figures = per_vcpu(i)
        for c in COUNTERS:
            header.append(f'"{host}\\Group Cpu({gid}:{name})\\{c}"')
            values.append(f'"{figures[c] * args.vcpus:.2f}"')
        worlds = [(gid + 1, f"vmx"), (gid + 2, f"mks:{name}")] + \
                 [(gid + 10 + v, f"vmx-vcpu-{v}:{name}") for v in range(args.vcpus)]
        for wid, world in worlds:
            for c in COUNTERS:
                header.append(f'"{host}\\Vcpu({gid}:{name}:{wid}:{world})\\{c}"')
                values.append(f'"{figures[c]:.2f}"' if world.startswith("vmx-vcpu") else '"0.50"')
    for f in range(args.filler):
        header.append(f'"{host}\\Network Port(vSwitch0:{50331648 + f}:vmnic{f % 4})\\Packets Transmitted/sec"')
        values.append('"1234.56"')
    body = ",".join(values)
    limit = int(args.mb * 1024 * 1024)
    written = 0
    rows = 0
    with open(args.out, "w", newline="") as out:
        line = ",".join(header) + "\r\n"
        out.write(line)
        written += len(line)
        while written < limit:
            s = rows * 5
            stamp = f'"11/20/2026 {10 + s // 3600 % 14:02d}:{s // 60 % 60:02d}:{s % 60:02d}"'
            line = stamp + "," + body + "\r\n"
            out.write(line)
            written += len(line)
            rows += 1
    print(f"{args.out}: {len(header) - 1} counter columns, {rows} samples, {written / 1048576:.1f} MiB")


if __name__ == "__main__":
    main()
