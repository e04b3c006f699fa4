"""Resident memory of a process tree, read from /proc (the benchmarks' peak-memory samplers)."""

from __future__ import annotations

import os


def tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc (KiB)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        parents[int(entry)] = int(fields.get("PPid", "0").strip())
        rss[int(entry)] = int(fields["VmRSS"].split()[0]) if "VmRSS" in fields else 0
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total
