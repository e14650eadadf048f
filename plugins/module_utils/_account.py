# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the system account an application runs as.

The release module creates it in the same call that stages the release (no
extra task per host): a system user with no login shell and no home
(``/nonexistent``), in a system group of its own unless another is named.
Names are checked before anything changes; an account that exists (locally or
through NSS) is used as it is, never modified.
"""

from __future__ import annotations

import grp
import os
import pwd
from typing import Callable, List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate

#: The home of a created account: a directory that does not exist (Debian's convention for system users).
HOME = "/nonexistent"
#: The first of these that exists is the created account's shell.
NOLOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/false", "/bin/false")
#: Where useradd and groupadd are looked for (the module's PATH may lack the sbin directories).
TOOL_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")

Runner = Callable[[List[str]], Tuple[int, str, str]]
#: (user, group) -> (uid, gid), -1 for the one not given or not there yet.
Ids = Tuple[int, int]


class AccountError(Exception):
    """The account cannot be created; the message says why and what to do."""


def validate_account(user: Optional[str], group: Optional[str], what: str = "owner") -> None:
    """Refuses a user or group name that is not a POSIX name, before any change."""
    if user is not None:
        validate.name(user, "posix_account", what)
    if group is not None:
        validate.name(group, "posix_account", "group")


def _uid(user: str) -> Optional[int]:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _gid(group: str) -> Optional[int]:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


class Accounts:
    """Looks accounts up and creates missing ones; lookups and the command runner are injectable for tests."""

    def __init__(
        self,
        runner: Optional[Runner],
        uid: Callable[[str], Optional[int]] = _uid,
        gid: Callable[[str], Optional[int]] = _gid,
        exists: Callable[[str], bool] = os.path.exists,
    ) -> None:
        self.runner = runner
        self.uid = uid
        self.gid = gid
        self.exists = exists

    def plan(self, user: Optional[str], group: Optional[str]) -> List[str]:
        """What ``ensure`` would create: ``create group`` and/or ``create user``, in that order."""
        actions = []
        new_user = user is not None and self.uid(user) is None
        # without a group, a new user gets a group of its own name; an existing user keeps the group it has
        primary = group or (user if new_user else None)
        if primary is not None and self.gid(primary) is None:
            actions.append("create group")
        if new_user:
            actions.append("create user")
        return actions

    def _tool(self, name: str) -> str:
        for directory in TOOL_DIRS:
            path = os.path.join(directory, name)
            if self.exists(path):
                return path
        raise AccountError(
            "%s is not on this host (looked in %s); install it (the passwd or shadow-utils package) or create the "
            "account yourself" % (name, ", ".join(TOOL_DIRS))
        )

    def _shell(self) -> str:
        return next((s for s in NOLOGIN_SHELLS if self.exists(s)), NOLOGIN_SHELLS[-1])

    def _run(self, cmd: Sequence[str]) -> None:
        if self.runner is None:
            raise AccountError("no command runner to create accounts with")
        rc, out, err = self.runner(list(cmd))
        if rc != 0:
            raise AccountError("%s failed (rc=%s): %s" % (" ".join(cmd), rc, (err or out).strip()))

    def ensure(
        self, user: Optional[str], group: Optional[str], create: bool, check: bool, comment: str = ""
    ) -> Tuple[List[str], Optional[Ids]]:
        """Create what is missing (unless ``check``); returns the actions and (uid, gid), -1 for one not given.

        The ids are None in check mode while an account is still to be created, and when neither name is given.
        Without ``create`` a missing account is an AccountError naming it.
        """
        validate_account(user, group)
        if user is None and group is None:
            return [], None
        actions = self.plan(user, group)
        if actions and not create:
            raise AccountError(
                "%s does not exist on this host; create it first (or let the module: create_owner=true)"
                % " and ".join(_missing(actions, user, group))
            )
        if actions and check:
            return actions, None
        self._create(actions, user, group, comment)
        uid = self.uid(user) if user is not None else -1
        gid = self.gid(group) if group is not None else -1
        if uid is None or gid is None:
            raise AccountError("account %s:%s was created but cannot be looked up" % (user, group))
        return actions, (uid, gid)

    def _create(self, actions: List[str], user: Optional[str], group: Optional[str], comment: str) -> None:
        """Run the planned ``actions``: the group first (the user's primary group, named after it when no group
        is given), then the system user, with no home and no login shell."""
        primary = group or user
        if "create group" in actions:
            self._run([self._tool("groupadd"), "--system", primary or ""])
        if "create user" in actions:
            self._run(
                [
                    self._tool("useradd"),
                    "--system",
                    "--gid",
                    primary or "",
                    "--no-create-home",
                    "--home-dir",
                    HOME,
                    "--shell",
                    self._shell(),
                    "--comment",
                    comment or "application user (zerodown.deploy)",
                    user or "",
                ]
            )


def _missing(actions: List[str], user: Optional[str], group: Optional[str]) -> List[str]:
    """What a refusal without create names: the user and the group to be created."""
    missing = ["user %r" % user] if "create user" in actions else []
    missing += ["group %r" % group] if "create group" in actions and group else []
    return missing
