# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: open-source nginx as a load balancer.

nginx has no runtime API, so a server's state lives in a file: the module
owns an include file holding the ``server`` lines of one upstream::

    upstream app {
        include /etc/nginx/zerodown/app.servers;   # this file
    }

with lines ``server host:port [weight=N] [down] [other params];``. A server
marked ``down`` carries a trailing ``# zerodown: drain`` or ``# zerodown:
maint`` comment so the two states (which nginx treats alike) read back the
way they were set; ``down`` without the comment reads as ``maint``.

A change is: write the new file atomically, ``nginx -t`` (with the same
``-c``/``-p`` as the running nginx), put the old file back if the test fails,
then a graceful reload (SIGHUP to the master from the pid file). The master
starts new workers and tells the old ones to finish what they are serving
and exit; a server is drained once the old workers, tracked by PID and start
time from /proc before the reload, have exited.

A pid file is only a number someone wrote: before any signal the PID must be
an nginx master - not PID 1 or below, its /proc exe the configured binary,
its title ``nginx: master process`` and its configuration file the
configured one, resolved as nginx resolved it (``-c`` or the compiled-in
path, against ``-p`` or the compiled-in prefix, against the master's
working directory). The reload counts only once new ``nginx: worker
process`` children of that same master (PID and start time) appear.

Knows nothing of AnsibleModule.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from typing import Callable, Iterable, List, Optional, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until

HEADER_PREFIX = "# Managed by zerodown.deploy (drain_backend / switch_traffic): upstream "
NGINX_STATES = ("ready", "drain", "maint")
MAX_WEIGHT = 1000000
_SERVER_RE = re.compile(
    r"^\s*server\s+(?P<address>[^\s;#]+)(?P<params>[^;#]*);\s*(?:#\s*zerodown:\s*(?P<mark>[a-z]+)\s*)?(?:#.*)?$"
)
Proc = Tuple[int, int]  # (pid, start time in clock ticks): a PID that cannot be confused with a reused one
MASTER_TITLE = "nginx: master process"
WORKER_TITLE = "nginx: worker process"
_PID_RE = re.compile(r"\A[0-9]{1,10}\Z")


class NginxError(Exception):
    """Base class for errors raised here."""


class NginxFileError(NginxError):
    """The servers include file is missing, unreadable or has lines we do not understand."""


class NginxConfigTestError(NginxError):
    """``nginx -t`` rejected the new configuration; the previous file was put back."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class NginxReloadError(NginxError):
    """The master could not be signalled or did not start new workers."""


class NginxServer:
    __slots__ = ("address", "weight", "down", "mark", "params")

    def __init__(
        self,
        address: str,
        weight: Optional[int] = None,
        down: bool = False,
        mark: Optional[str] = None,
        params: Optional[List[str]] = None,
    ) -> None:
        self.address = address
        self.weight = weight
        self.down = down
        self.mark = mark
        self.params = list(params or [])

    @property
    def state(self) -> str:
        if not self.down:
            return "ready"
        return self.mark if self.mark in ("drain", "maint") else "maint"

    @property
    def effective_weight(self) -> int:
        return self.weight if self.weight is not None else 1

    def set_state(self, state: str) -> None:
        if state not in NGINX_STATES:
            raise NginxError("invalid state %r: use one of %s" % (state, ", ".join(NGINX_STATES)))
        self.down = state != "ready"
        self.mark = state if self.down else None

    def set_weight(self, weight: int) -> None:
        # weight=1 is nginx's default: written without weight= (unless the line already says weight=1), so a
        # canary's weights restored to 1 give back the file as it was, not the same servers with weight=1 added.
        self.weight = None if (weight == 1 and self.weight != 1) else weight

    def render(self) -> str:
        parts = ["server", self.address]
        if self.weight is not None:
            parts.append("weight=%d" % self.weight)
        parts.extend(self.params)
        if self.down:
            parts.append("down")
        line = "    " + " ".join(parts) + ";"
        if self.down:
            line += "  # zerodown: %s" % self.state
        return line


def validate_address(address: str) -> str:
    return validate.name(address, "nginx_address", "nginx upstream server", NginxError)


def validate_weight(weight: object) -> int:
    return validate.number(weight, "nginx weight", _WEIGHT, error=lambda message: NginxError("invalid %s" % message))


_WEIGHT = validate.Limit(
    1,
    MAX_WEIGHT,
    unit="",
    integer=True,
    expect="an integer weight of 1-%d (nginx has no weight 0 and no percentages; use state drain or maint to take "
    "a server out)" % MAX_WEIGHT,
)


def parse_servers(text: str, path: str = "servers file") -> Tuple[Optional[str], List[NginxServer]]:
    """Return (upstream named in our header or None, server lines)."""
    upstream = None
    servers: List[NginxServer] = []
    seen: Set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith(HEADER_PREFIX.strip()):
            upstream = line[len(HEADER_PREFIX.strip()) :].strip() or None
            continue
        if not line or line.startswith("#"):
            continue
        match = _SERVER_RE.match(line)
        if not match:
            raise NginxFileError(
                "%s line %d is not a 'server host:port [params];' line: %r (this file must hold only the "
                "server lines of one upstream)" % (path, number, raw)
            )
        params = match.group("params").split()
        weight = None
        down = False
        rest = []
        for param in params:
            if param == "down":
                down = True
            elif param.startswith("weight="):
                try:
                    weight = int(param[len("weight=") :])
                except ValueError:
                    raise NginxFileError("%s line %d: bad %r" % (path, number, param)) from None
            else:
                rest.append(param)
        address = match.group("address")
        if address in seen:
            raise NginxFileError("%s line %d: server %s appears twice" % (path, number, address))
        seen.add(address)
        mark = match.group("mark") if down else None
        servers.append(NginxServer(address, weight, down, mark, rest))
    return upstream, servers


def render_servers(upstream: str, servers: Iterable[NginxServer]) -> str:
    lines = [HEADER_PREFIX + upstream]
    lines.extend(s.render() for s in servers)
    return "\n".join(lines) + "\n"


def _read_stat(proc_root: str, pid: int) -> Optional[Tuple[int, int, str]]:
    """(ppid, starttime, state) of a process, or None if it is gone."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as handle:
            data = handle.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


def _read_title(proc_root: str, pid: int) -> Optional[str]:
    """The process's command line as one string (nginx rewrites it to its title), or None if unreadable."""
    try:
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as handle:
            raw = handle.read(4096)
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _read_exe(proc_root: str, pid: int) -> Tuple[Optional[str], str]:
    """(the executable's path, "") or (None, why it cannot be read)."""
    try:
        target = os.readlink(os.path.join(proc_root, str(pid), "exe"))
    except OSError as exc:
        return None, exc.strerror or str(exc)
    # An nginx upgraded in place keeps running the old, now unlinked, file.
    return (target[: -len(" (deleted)")] if target.endswith(" (deleted)") else target), ""


#: nginx's command-line options that take a value (in the same word or the next one); the others are flags.
_VALUE_OPTIONS = "cgeps"


def _master_options(words: List[str]) -> dict:
    """``{"c": conf, "p": prefix, ...}`` from an nginx master's title, parsed the way nginx parses argv.

    The title is the command line joined by spaces, so a value holding spaces comes back cut at its first
    space; the path then resolves to another file and the master is refused rather than trusted.
    """
    options: dict = {}
    index = 1  # words[0] is the executable
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            continue  # the rest of a value that held spaces (-g 'daemon off;')
        for position, flag in enumerate(word[1:], 1):
            if flag in _VALUE_OPTIONS:
                value = word[position + 1 :]
                if not value and index < len(words):
                    value = words[index]
                    index += 1
                options[flag] = value
                break
    return options


def compiled_paths(version_output: str) -> Tuple[str, str]:
    """(prefix, conf path) from ``nginx -V``: nginx's defaults (/usr/local/nginx, conf/nginx.conf) unless given."""
    prefix = re.search(r"--prefix=(\S+)", version_output)
    conf = re.search(r"--conf-path=(\S+)", version_output)
    return (prefix.group(1) if prefix else "/usr/local/nginx"), (conf.group(1) if conf else "conf/nginx.conf")


def _resolves_without_cwd(conf: Optional[str], prefix: Optional[str], compiled: Callable[[], Tuple[str, str]]) -> bool:
    if conf == "" or prefix == "" or (conf is not None and os.path.isabs(conf)):
        return True
    if prefix is not None:
        return os.path.isabs(prefix)
    if conf is None and os.path.isabs(compiled()[1]):
        return True
    return os.path.isabs(compiled()[0])


def effective_conf(
    conf: Optional[str], prefix: Optional[str], cwd: str, compiled: Callable[[], Tuple[str, str]]
) -> str:
    """The configuration file nginx reads given ``-c conf -p prefix`` (None: not given) started in ``cwd``.

    As nginx does it: no -c means the compiled-in conf path, a relative conf is read from the prefix (-p, else
    the compiled-in one) and a relative prefix from the working directory.
    """
    if conf == "" or prefix == "":
        raise NginxReloadError("an empty -c or -p names no file")
    if conf is None:
        conf = compiled()[1]
    if os.path.isabs(conf):
        return conf
    if prefix is None:
        prefix = compiled()[0]
    # joined, not normalised: "link/.." is the kernel's to resolve (realpath), not a string's
    return os.path.join(cwd, prefix, conf)


def _read_cwd(proc_root: str, pid: int) -> Tuple[Optional[str], str]:
    """(the process's working directory, "") or (None, why it cannot be read)."""
    try:
        target = os.readlink(os.path.join(proc_root, str(pid), "cwd"))
    except OSError as exc:
        return None, exc.strerror or str(exc)
    if target.endswith(" (deleted)"):
        return None, "its working directory %s was deleted" % target[: -len(" (deleted)")]
    return target, ""


class Nginx:
    """One nginx instance: its config, the servers include file, its master process."""

    def __init__(
        self,
        conf: str,
        servers_file: str,
        pid_file: str = "/run/nginx.pid",
        binary: str = "nginx",
        prefix: Optional[str] = None,
        proc_root: str = "/proc",
        runner: Optional[Callable[..., subprocess.CompletedProcess]] = None,
        clock: Optional[Clock] = None,
        signaller: Callable[[int, int], None] = os.kill,
    ) -> None:
        self.conf = conf
        self.servers_file = servers_file
        self.pid_file = pid_file
        self.binary = binary
        self.prefix = prefix
        self.proc_root = proc_root
        self._run = runner or subprocess.run
        self.clock = clock or Clock()
        self._signal = signaller
        self._compiled_paths: Optional[Tuple[str, str]] = None

    # -- file ------------------------------------------------------------------------

    def read_text(self) -> str:
        try:
            with open(self.servers_file, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise NginxFileError(
                "cannot read the nginx servers file %s: %s (create it with the upstream's server lines and "
                "include it inside the upstream block)" % (self.servers_file, exc.strerror or exc)
            ) from exc
        try:
            # UTF-8 whatever the module's locale: the file is written back as UTF-8, and a byte read otherwise
            # would be written back as another
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise NginxFileError(
                "the nginx servers file %s is not UTF-8 text: byte 0x%02x on line %d (%r): nothing was changed; "
                "this file holds only 'server host:port [params];' lines - fix or rewrite that line"
                % (self.servers_file, raw[exc.start], line, raw.split(b"\n")[line - 1][:80])
            ) from None

    def read(self, upstream: Optional[str] = None) -> List[NginxServer]:
        named, servers = parse_servers(self.read_text(), self.servers_file)
        if upstream is not None and named is not None and named != upstream:
            raise NginxFileError(
                "%s holds the servers of upstream %r, not %r: give the servers file of upstream %r"
                % (self.servers_file, named, upstream, upstream)
            )
        return servers

    def write_text(self, text: str) -> None:
        """Atomic replace, keeping the file's mode."""
        directory = os.path.dirname(os.path.abspath(self.servers_file))
        try:
            mode = os.stat(self.servers_file).st_mode & 0o7777
        except OSError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(prefix=".zerodown-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, self.servers_file)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # -- nginx binary ----------------------------------------------------------------

    def _base_cmd(self) -> List[str]:
        cmd = [self.binary, "-c", self.conf]
        if self.prefix:
            cmd += ["-p", self.prefix]
        return cmd

    def test_config(self) -> Tuple[bool, str]:
        try:
            proc = self._run(self._base_cmd() + ["-t", "-q"], capture_output=True, text=True, timeout=60, check=False)
        except OSError as exc:
            return False, "cannot run %s: %s" % (self.binary, exc)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()

    # -- processes -------------------------------------------------------------------

    def binary_path(self) -> str:
        """The configured nginx executable, resolved as the kernel names it in /proc/<pid>/exe."""
        found = self.binary if os.sep in self.binary else shutil.which(self.binary)
        if not found:
            raise NginxReloadError(
                "cannot find the nginx binary %r on this host's PATH: set nginx.binary to its full path "
                "(e.g. /usr/sbin/nginx), the executable the running master was started from" % (self.binary,)
            )
        return os.path.realpath(found)

    def master_pid(self) -> int:
        """The PID in the pid file, verified to be the master of this nginx (see ``check_master``)."""
        return self.master()[0]

    def master(self) -> Proc:
        """(pid, start time) of the master the pid file names, verified (see ``check_master``)."""
        try:
            with open(self.pid_file) as handle:
                text = handle.read(64).strip()
        except OSError as exc:
            raise NginxReloadError(
                "cannot read the nginx master PID from %s: %s (is nginx running, and is that its 'pid' file?)"
                % (self.pid_file, exc.strerror or exc)
            ) from exc
        if not _PID_RE.match(text):
            raise NginxReloadError(
                "the nginx pid file %s holds %r, not a process id: nothing was signalled; is that nginx's 'pid' "
                "file? (restart nginx to rewrite it)" % (self.pid_file, text[:40])
            )
        return self.check_master(int(text))

    def check_master(self, pid: int) -> Proc:
        """(pid, start time) of the nginx master ``pid``; NginxReloadError naming what it is otherwise.

        Nothing is signalled on the word of a pid file alone: PID 1 and below are never nginx's master
        (1 is init; 0 and negative numbers signal whole process groups), and the process must run the
        configured binary, carry nginx's master title and read our configuration file.
        """
        where = "nginx pid file %s names PID %d" % (self.pid_file, pid)
        if pid <= 1:
            raise NginxReloadError(
                "%s, which is never an nginx master (1 is init; 0 and below signal process groups): nothing was "
                "signalled; fix nginx.pid_file (the 'pid' directive of %s)" % (where, self.conf)
            )
        stat = _read_stat(self.proc_root, pid)
        if stat is None or stat[2] == "Z":
            raise NginxReloadError(
                "%s, which is not running: nothing was signalled (is nginx running, and is that its 'pid' file?)"
                % where
            )
        binary = self.binary_path()
        exe, why = _read_exe(self.proc_root, pid)
        if exe is None:
            raise NginxReloadError(
                "%s, whose executable cannot be read (%s): nothing was signalled; run the module as the user "
                "nginx runs as, or with become: true" % (where, why)
            )
        title = _read_title(self.proc_root, pid) or ""
        if os.path.realpath(exe) != binary:
            raise NginxReloadError(
                "%s, which runs %s (%r), not the nginx binary %s: nothing was signalled; fix nginx.pid_file, or "
                "nginx.binary if nginx runs from another path" % (where, exe, title[:80], binary)
            )
        if not title.startswith(MASTER_TITLE):
            raise NginxReloadError(
                "%s, which is an nginx process but not the master (%r): nothing was signalled; fix nginx.pid_file "
                "(the 'pid' directive of %s)" % (where, title[:80], self.conf)
            )
        self._check_master_conf(where, pid, title)
        return pid, stat[1]

    def _check_master_conf(self, where: str, pid: int, title: str) -> None:
        """The master's configuration file must be ours, resolved the way nginx resolved it.

        nginx reads ``-c`` (or, without one, the conf path compiled in) relative to its prefix (``-p``, or the
        prefix compiled in), and a relative prefix relative to the directory it was started from, which its
        master never leaves (/proc/PID/cwd). Anything that cannot be resolved is refused, not trusted.
        """
        options = _master_options(title[len(MASTER_TITLE) :].split())
        try:
            cwd = "/"
            if not _resolves_without_cwd(options.get("c"), options.get("p"), self._compiled):
                cwd, why = _read_cwd(self.proc_root, pid)
                if cwd is None:
                    raise NginxReloadError(
                        "it was started with a relative -c or -p (%r) and its working directory cannot be read "
                        "(%s); run the module as the user nginx runs as, or with become: true" % (title[:200], why)
                    )
            theirs = effective_conf(options.get("c"), options.get("p"), cwd, self._compiled)
            ours = effective_conf(self.conf, self.prefix, os.getcwd(), self._compiled)
        except NginxReloadError as exc:
            raise NginxReloadError(
                "%s, an nginx master whose configuration file cannot be told: %s; nothing was signalled" % (where, exc)
            ) from None
        if os.path.realpath(theirs) != os.path.realpath(ours):
            raise NginxReloadError(
                "%s, which is the master of another nginx (its configuration file is %s, from %r), not of %s: "
                "nothing was signalled; give the pid_file of the nginx that uses %s"
                % (where, theirs, title[:200], ours, ours)
            )

    def _compiled(self) -> Tuple[str, str]:
        """(prefix, conf path) compiled into the configured binary, from ``nginx -V``; read once."""
        if self._compiled_paths is None:
            try:
                proc = self._run([self.binary, "-V"], capture_output=True, text=True, timeout=60, check=False)
            except OSError as exc:
                raise NginxReloadError(
                    "cannot run %s -V to learn its compiled-in paths: %s" % (self.binary, exc)
                ) from exc
            output = (proc.stdout or "") + (proc.stderr or "")
            if proc.returncode != 0 or "configure arguments:" not in output:
                raise NginxReloadError(
                    "%s -V did not print its configure arguments (exit %s: %r), so its compiled-in prefix and "
                    "configuration path are unknown" % (self.binary, proc.returncode, output.strip()[:200])
                )
            self._compiled_paths = compiled_paths(output)
        return self._compiled_paths

    def workers(self, master: Optional[int] = None) -> Set[Proc]:
        """nginx children of the master (workers, cache manager and loader): (pid, start time)."""
        master = master if master is not None else self.master_pid()
        out = set()
        for entry in os.listdir(self.proc_root):
            if not entry.isdigit():
                continue
            stat = _read_stat(self.proc_root, int(entry))
            if stat and stat[0] == master and stat[2] != "Z":
                title = _read_title(self.proc_root, int(entry))
                if title is not None and title.startswith("nginx: "):
                    out.add((int(entry), stat[1]))
        return out

    def new_workers(self, master: Proc, before: Set[Proc]) -> Set[Proc]:
        """Worker processes of ``master`` that were not there ``before``; NginxReloadError if the master is gone."""
        stat = _read_stat(self.proc_root, master[0])
        if stat is None or stat[1] != master[1] or stat[2] == "Z":
            raise NginxReloadError(
                "the nginx master %d exited after the reload signal (see nginx's error log); nginx is not serving"
                % master[0]
            )
        return {
            proc
            for proc in self.workers(master[0]) - before
            if (_read_title(self.proc_root, proc[0]) or "").startswith(WORKER_TITLE)
        }

    def alive(self, procs: Iterable[Proc]) -> Set[Proc]:
        out = set()
        for pid, start in procs:
            stat = _read_stat(self.proc_root, pid)
            if stat and stat[1] == start and stat[2] != "Z":
                out.add((pid, start))
        return out

    def _socket_inodes(self, pid: int) -> Set[str]:
        inodes = set()
        fd_dir = os.path.join(self.proc_root, str(pid), "fd")
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return inodes
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        return inodes

    def _tcp_table(self) -> List[Tuple[int, str, str]]:
        """(local port, state, inode) for every TCP socket in this network namespace."""
        rows = []
        for name in ("tcp", "tcp6"):
            try:
                with open(os.path.join(self.proc_root, "net", name)) as handle:
                    lines = handle.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 9:
                    rows.append((int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]))
        return rows

    def client_connections(self, procs: Iterable[Proc], master: Optional[int] = None) -> int:
        """Established client connections (on nginx's listening ports) held by these processes."""
        procs = list(procs)
        if not procs:
            return 0
        table = self._tcp_table()
        try:
            master = master if master is not None else self.master_pid()
        except NginxReloadError:
            return 0
        master_inodes = self._socket_inodes(master)
        listen_ports = {port for port, state, inode in table if state == "0A" and inode in master_inodes}
        inodes: Set[str] = set()
        for pid, _start in self.alive(procs):
            inodes |= self._socket_inodes(pid)
        return sum(1 for port, state, inode in table if state == "01" and inode in inodes and port in listen_ports)

    # -- change ----------------------------------------------------------------------

    def apply_text(self, new_text: str, reload_timeout: float = 30.0, interval: float = 0.05) -> Set[Proc]:
        """Write, test, reload. Returns the old workers (they exit once their requests are done).

        On a failed ``nginx -t`` or a reload that does not take, the previous
        file is written back and nothing else changed.
        """
        old_text = self.read_text()
        master_proc = self.master()
        master = master_proc[0]
        old_workers = self.workers(master)
        self.write_text(new_text)
        ok, output = self.test_config()
        if not ok:
            self.write_text(old_text)
            raise NginxConfigTestError(
                "nginx -t rejected the configuration with the new %s, which was put back as it was: %s"
                % (self.servers_file, output),
                output,
            )
        try:
            if self.check_master(master) != master_proc:  # the PID was reused while nginx -t ran
                raise NginxReloadError("the nginx master %d was replaced while the configuration was tested" % master)
            self._signal(master, signal.SIGHUP)
        except (OSError, NginxReloadError) as exc:
            self.write_text(old_text)
            if isinstance(exc, NginxReloadError):
                raise NginxReloadError("%s; the previous %s was put back" % (exc, self.servers_file)) from exc
            raise NginxReloadError("cannot signal the nginx master %d to reload: %s" % (master, exc)) from exc
        try:
            # The reload took once the same master has a worker process that was not there before.
            wait_until(
                lambda: self.new_workers(master_proc, old_workers),
                timeout=reload_timeout,
                interval=interval,
                clock=self.clock,
                description="new nginx workers after reload",
            )
        except NginxReloadError:
            self.write_text(old_text)
            raise
        except WaitTimeout as exc:
            self.write_text(old_text)
            raise NginxReloadError(
                "nginx master %d started no new workers within %ss after SIGHUP; the previous %s was put back "
                "(see nginx's error log)" % (master, reload_timeout, self.servers_file)
            ) from exc
        return old_workers

    def terminate(self, procs: Iterable[Proc]) -> int:
        """Fast-stop old workers still draining; returns the client connections they held."""
        procs = self.alive(procs)
        killed = self.client_connections(procs)
        for pid, _start in procs:
            try:
                self._signal(pid, signal.SIGTERM)
            except OSError:
                pass
        return killed
