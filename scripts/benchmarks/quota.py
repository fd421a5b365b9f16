"""A CPU quota for a group of processes: a slow board made on a fast machine.

A cgroup whose CFS quota is ``percent`` % of one core's time (cgroup v1:
``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``; v2: ``cpu.max``), pinned
to one core (``cpuset``), so every process started under :meth:`CpuQuota.prefix`
(and every process they start: the gateway's speech-to-text workers,
espeak-ng) shares that one slice of one core, as a daemon and a gateway on a
Pi Zero 2 W share its cores. Needs root and a writable cgroup file system.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

V1 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000

JOIN = 'for f in "$1" "$2"; do [ -z "$f" ] || echo $$ >"$f"; done; shift 2; exec "$@"'
"""sh: move this shell into the groups, then become the command (same pid)."""


class QuotaUnavailable(RuntimeError):
    """No cgroup with a CPU quota can be made here (not root, no cpu controller ...)."""


class CpuQuota:
    """One cgroup (v1 ``cpu`` + ``cpuset``, or v2) at ``percent`` % of core ``cpu``."""

    def __init__(self, percent: float, cpu: int | None = None, name: str | None = None) -> None:
        if not 0 < percent <= 100:
            raise ValueError("percent: expected 0 < percent <= 100")
        self.percent = percent
        self.cpu = cpu if cpu is not None else max(os.sched_getaffinity(0))
        self.name = name or f"voice-agent-slowboard-{os.getpid()}"
        self.dirs: list[Path] = []
        self._procs: list[Path] = []
        self.version = 0

    def __enter__(self) -> CpuQuota:
        try:
            if (V1 / "cpu" / "cpu.cfs_quota_us").exists():
                self._make_v1()
            elif (V1 / "cgroup.controllers").exists():
                self._make_v2()
            else:
                raise QuotaUnavailable("no cgroup cpu controller under /sys/fs/cgroup")
        except OSError as exc:
            self.close()
            raise QuotaUnavailable(f"cannot make a cgroup with a CPU quota: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _make_v1(self) -> None:
        self.version = 1
        cpu = V1 / "cpu" / self.name
        cpu.mkdir()
        self.dirs.append(cpu)
        (cpu / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
        (cpu / "cpu.cfs_quota_us").write_text(f"{round(PERIOD_US * self.percent / 100)}\n")
        self._procs.append(cpu / "cgroup.procs")
        cpuset_root = V1 / "cpuset"
        if (cpuset_root / "cpuset.cpus").exists():
            cpuset = cpuset_root / self.name
            cpuset.mkdir()
            self.dirs.append(cpuset)
            (cpuset / "cpuset.mems").write_text((cpuset_root / "cpuset.mems").read_text())
            (cpuset / "cpuset.cpus").write_text(f"{self.cpu}\n")
            self._procs.append(cpuset / "cgroup.procs")

    def _make_v2(self) -> None:
        self.version = 2
        root = V1
        controllers = (root / "cgroup.controllers").read_text().split()
        if "cpu" not in controllers:
            raise QuotaUnavailable("cgroup v2 without the cpu controller")
        wanted = ["+cpu"] + (["+cpuset"] if "cpuset" in controllers else [])
        (root / "cgroup.subtree_control").write_text(" ".join(wanted) + "\n")
        group = root / self.name
        group.mkdir()
        self.dirs.append(group)
        (group / "cpu.max").write_text(f"{round(PERIOD_US * self.percent / 100)} {PERIOD_US}\n")
        if "cpuset" in controllers:
            (group / "cpuset.cpus").write_text(f"{self.cpu}\n")
        self._procs.append(group / "cgroup.procs")

    def prefix(self) -> tuple[str, ...]:
        """A command prefix that runs the rest of the command inside this group."""
        procs = [str(p) for p in self._procs] + ["", ""]
        return ("sh", "-c", JOIN, "join", procs[0], procs[1])

    def throttled(self) -> tuple[int, int, float]:
        """(periods, periods throttled, seconds throttled) so far, from ``cpu.stat``."""
        stat: dict[str, int] = {}
        for line in (self.dirs[0] / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stat[key] = int(value)
        if self.version == 1:
            return stat.get("nr_periods", 0), stat.get("nr_throttled", 0), stat.get(
                "throttled_time", 0) / 1e9
        return stat.get("nr_periods", 0), stat.get("nr_throttled", 0), stat.get(
            "throttled_usec", 0) / 1e6

    def close(self) -> None:
        """Remove the groups (once their processes have exited; waits up to 10 s)."""
        for group in reversed(self.dirs):
            deadline = time.monotonic() + 10
            while group.exists():
                try:
                    group.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
        self.dirs.clear()
