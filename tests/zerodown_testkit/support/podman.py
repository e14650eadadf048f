"""The podman options every container of the execution environment work needs here (``make ee``, tests/integration/ee).

Two things of the test machines stop podman 4.3's defaults (seen with ``podman run`` of the base image):

* crun 1.8, Debian's default runtime, refuses a hybrid cgroup hierarchy (v1 controllers plus a cgroup2 mount with a
  controller): "cgroups in hybrid mode not supported, drop all controllers from cgroupv2". runc (scripts/ensure-host.sh
  installs it) runs there;
* podman as root raises a container's RLIMIT_NOFILE and RLIMIT_NPROC to its own maxima, which a process without
  CAP_SYS_RESOURCE may not ("setrlimit RLIMIT_NOFILE: Operation not permitted"). The limits given here are the
  caller's hard open-files limit and podman's own process limit (32768 for the conmon it starts, whatever the caller's).

Both apply to ``podman run`` and ``podman build`` alike.
"""

from __future__ import annotations

import resource
import shutil

#: podman caps its own process tree's RLIMIT_NPROC here; a container may not ask for more.
PODMAN_NPROC = 32768


def podman_args() -> list:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = PODMAN_NPROC if nproc == resource.RLIM_INFINITY else min(nproc, PODMAN_NPROC)
    args = ["--ulimit", "nofile=%d:%d" % (nofile, nofile), "--ulimit", "nproc=%d:%d" % (nproc, nproc)]
    if shutil.which("runc"):
        args[:0] = ["--runtime", "runc"]
    return args
