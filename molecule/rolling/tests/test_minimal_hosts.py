"""The rolling scenario's app hosts boot the minimal image: python3 from Debian and no other Python package.

So converge (v1 -> v2 under load) and every deploy and rollback of test_rolling.py (never ready in the last
batch, a release that exits at start, a failing hook, rollback on demand, ...) run where the modules have the
standard library alone, as on a minimal cloud image. This file checks that the hosts are that minimal, and that a
deploy whose hosts lack what it needs is refused at preflight, every such host named, with nothing changed on
any host or on the load balancer, under load.
"""

from __future__ import annotations

import json

from zerodown_testkit.e2e.verifier import STATE, assert_no_failed_requests, deploy_under_load, lb_states

RELEASES = "/opt/demoapp/releases"


def test_app_hosts_have_python3_and_nothing_else_of_pythons(host, app_names, facts):
    assert facts["fleet_app_image"] == "minimal"
    for name in app_names:
        packages = host(name).run("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'python3*'")
        installed = {line.split()[1] for line in packages.stdout.splitlines() if line.startswith("ii ")}
        assert {p for p in installed if p.startswith("python3-")} == {"python3-minimal"}, (name, installed)
        assert "python3" in installed
        for library in ("requests", "apt", "psycopg", "psycopg2", "urllib3"):
            probe = host(name).run("python3 -c 'import %s'", library)
            assert probe.rc != 0 and "No module named" in probe.stderr, (name, library)
    # the load balancer keeps the full image
    assert host("lb1").run("python3 -c 'import apt, psycopg'").rc == 0


def _snapshot(host, app_names, backend):
    hosts = {
        name: (host(name).file("/opt/demoapp/current").linked_to, host(name).run("ls -1a %s", RELEASES).stdout.split())
        for name in app_names
    }
    state = {path: host("lb1").file(path) for path in (STATE + "/ledger.json", STATE + "/deploy.lock")}
    files = {path: (f.exists and f.content_string) for path, f in state.items()}
    return hosts, files, lb_states(host, backend)


def test_hosts_lacking_what_the_deploy_needs_are_all_named_and_nothing_changes(
    run, inventory, facts, host, app_names, tmp_path
):
    """The migration host without the database driver, a runtime API socket that is not there, a host whose
    inventory names a Python it does not have: one refusal naming all three, under load, nothing changed."""
    backend = facts["fleet_haproxy_backend"]
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0100_minimal_probe.sql").write_text("CREATE TABLE minimal_probe (id integer);\n")
    first, last = app_names[0], app_names[-1]
    before = _snapshot(host, app_names, backend)
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={
            "zerodown_release": "v2-smoke-fail",  # on no host yet: staging it would show
            "zerodown_migrations_src": str(migrations),
            "zerodown_migrate_host": first,
            "zerodown_db_dialect": "postgresql",
            "zerodown_db_dsn": "postgresql://%s@%s:%s/%s"
            % (facts["fleet_db_user"], facts["fleet_db_host"], facts["fleet_db_port"], facts["fleet_db_name"]),
            "zerodown_haproxy_socket": "/run/haproxy/admin-typo.sock",
        },
        host_vars={last: {"ansible_python_interpreter": "/usr/bin/python3.9"}},
    )
    assert not result.ok
    out = result.output
    assert "preflight failed, nothing was changed: 3 of 5 host(s) lack what this deploy needs" in out, out[-3000:]
    assert "%s lacks the postgresql driver to apply the migrations (No module named 'psycopg')" % first in out
    assert "apt-get install python3-psycopg" in out
    assert "lb1 lacks the HAProxy runtime API: no socket at /run/haproxy/admin-typo.sock" in out
    assert "%s lacks the check could not run there" % last in out
    assert "Take the deploy lock" not in out, "refused before the lock"
    assert_no_failed_requests(report)
    assert _snapshot(host, app_names, backend) == before
    print(
        "preflight refusal: %s"
        % json.dumps([line for line in out.splitlines() if "preflight failed" in line][:1])[:600]
    )
