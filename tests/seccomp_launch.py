"""Run a command with some system calls refused (EPERM), as systemd's
``SystemCallFilter=~...`` with ``SystemCallErrorNumber=EPERM`` does, using
libseccomp (the library systemd itself uses) through ctypes.

    python seccomp_launch.py mbind sched_setaffinity ... -- program args...

Prints ``seccomp: N calls refused`` to stderr once the filter is in place
(checked: ``sched_setaffinity`` must fail), then executes the program, which
inherits the filter.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


def main() -> int:
    split = sys.argv.index("--")
    names, command = sys.argv[1:split], sys.argv[split + 1 :]
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                     ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    assert ctx, "seccomp_init failed"
    refused = 0
    for name in names:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # not a call on this architecture
        rc = lib.seccomp_rule_add(ctx, scmp_act_errno(errno.EPERM), nr, 0)
        assert rc == 0, f"seccomp_rule_add({name}) = {rc}"
        refused += 1
    assert lib.seccomp_load(ctx) == 0, "seccomp_load failed"
    try:
        os.sched_setaffinity(0, os.sched_getaffinity(0))
    except PermissionError:
        pass
    else:
        raise AssertionError("the filter is not in effect")
    print(f"seccomp: {refused} calls refused", file=sys.stderr, flush=True)
    os.execv(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main())
