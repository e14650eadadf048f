"""The system account the application runs as: planned, created once, never modified, refused when misnamed."""

from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._account import AccountError, Accounts, validate_account


class Host:
    """/etc/passwd and /etc/group as dicts; useradd and groupadd add to them."""

    def __init__(self, users=None, groups=None, files=("/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/nologin")):
        self.users = dict(users or {"root": 0})
        self.groups = dict(groups or {"root": 0})
        self.files = set(files)
        self.calls = []
        self.rc = 0

    def runner(self, cmd):
        self.calls.append(cmd)
        if self.rc:
            return self.rc, "", "useradd: cannot lock /etc/passwd"
        name = cmd[-1]
        if cmd[0].endswith("groupadd"):
            self.groups[name] = 900 + len(self.groups)
        elif cmd[0].endswith("useradd"):
            self.users[name] = 800 + len(self.users)
        return 0, "", ""

    def accounts(self):
        return Accounts(self.runner, uid=self.users.get, gid=self.groups.get, exists=self.files.__contains__)


def test_a_missing_user_and_group_are_created_as_system_accounts_without_login_or_home():
    host = Host()
    actions, ids = host.accounts().ensure("shop", "shop", create=True, check=False, comment="shop (zerodown.deploy)")
    assert actions == ["create group", "create user"]
    assert host.calls == [
        ["/usr/sbin/groupadd", "--system", "shop"],
        [
            "/usr/sbin/useradd",
            "--system",
            "--gid",
            "shop",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "shop (zerodown.deploy)",
            "shop",
        ],
    ]
    assert ids == (host.users["shop"], host.groups["shop"])
    again = host.accounts().ensure("shop", "shop", create=True, check=False)
    assert again == ([], ids) and len(host.calls) == 2  # idempotent: nothing run the second time


def test_check_mode_plans_the_accounts_and_creates_nothing():
    host = Host()
    assert host.accounts().ensure("shop", None, create=True, check=True) == (["create group", "create user"], None)
    assert host.calls == [] and "shop" not in host.users


def test_an_existing_account_is_used_as_it_is():
    host = Host(users={"root": 0, "nobody": 65534}, groups={"root": 0, "nogroup": 65534})
    # an existing user without a group named like it keeps the group it has: nothing to create
    assert host.accounts().ensure("nobody", None, create=True, check=False) == ([], (65534, -1))
    assert host.accounts().ensure("root", "root", create=False, check=False) == ([], (0, 0))
    assert host.calls == []


def test_a_new_user_joins_a_named_group_that_exists():
    host = Host(groups={"root": 0, "www": 33})
    actions, ids = host.accounts().ensure("shop", "www", create=True, check=False)
    assert actions == ["create user"] and ids[1] == 33
    assert host.calls[0][:4] == ["/usr/sbin/useradd", "--system", "--gid", "www"]


def test_without_create_a_missing_account_is_named_and_nothing_runs():
    host = Host()
    with pytest.raises(AccountError, match="user 'shop' and group 'web' does not exist.*create_owner=true"):
        host.accounts().ensure("shop", "web", create=False, check=False)
    assert host.calls == []


def test_the_shell_falls_back_and_a_missing_useradd_is_explained():
    host = Host(files=("/sbin/useradd", "/sbin/groupadd", "/bin/false"))
    host.accounts().ensure("shop", None, create=True, check=False)
    assert host.calls[-1][0] == "/sbin/useradd" and host.calls[-1][host.calls[-1].index("--shell") + 1] == "/bin/false"
    with pytest.raises(AccountError, match="groupadd is not on this host"):
        Host(files=()).accounts().ensure("shop", None, create=True, check=False)


def test_a_failing_useradd_is_reported_with_its_message():
    host = Host(groups={"root": 0, "shop": 901})
    host.rc = 10
    with pytest.raises(AccountError, match="useradd .* failed \\(rc=10\\): useradd: cannot lock"):
        host.accounts().ensure("shop", "shop", create=True, check=False)


@pytest.mark.parametrize(
    "user, group",
    [
        ("shop\n", None),
        ("-shop", None),
        ("1000", None),
        ("a" * 33, None),
        ("shop;rm", None),
        ("sh op", None),
        ("shop", "web/x"),
        ("shop", ""),
        ("..", None),
    ],
)
def test_names_that_are_not_posix_names_are_refused_before_anything_runs(user, group):
    host = Host()
    with pytest.raises(ValueError, match="POSIX user or group name"):
        host.accounts().ensure(user, group, create=True, check=False)
    assert host.calls == []


def test_posix_names_that_pass():
    for name in ("shop", "www-data", "_app", "svc.web", "App1", "a" * 32):
        validate_account(name, name)
