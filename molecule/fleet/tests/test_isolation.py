"""Machines share the rootfs image but nothing at run time: files, machine-ids and addresses are their own."""

import uuid


def test_a_file_written_on_one_host_is_absent_on_the_others(fleet_hosts):
    token = uuid.uuid4().hex
    marker = "/var/tmp/zdf-isolation-%s" % token
    writer_name = sorted(fleet_hosts)[0]
    writer = fleet_hosts[writer_name]
    writer.check_output("echo %s > %s" % (token, marker))
    try:
        assert writer.file(marker).content_string.strip() == token
        for name, other in fleet_hosts.items():
            if name != writer_name:
                assert not other.file(marker).exists, "%s sees a file written on %s" % (name, writer_name)
    finally:
        writer.run("rm -f %s" % marker)


def test_each_host_keeps_what_it_wrote(fleet_hosts):
    for name, host in fleet_hosts.items():
        host.check_output("echo %s > /var/tmp/zdf-whoami" % name)
    try:
        for name, host in fleet_hosts.items():
            assert host.file("/var/tmp/zdf-whoami").content_string.strip() == name
    finally:
        for host in fleet_hosts.values():
            host.run("rm -f /var/tmp/zdf-whoami")


def test_machine_ids_and_addresses_are_distinct(fleet_hosts):
    ids = {name: h.file("/etc/machine-id").content_string.strip() for name, h in fleet_hosts.items()}
    assert len(set(ids.values())) == len(ids), ids
    assert all(len(i) == 32 for i in ids.values()), ids
    addrs = {name: tuple(h.interface("host0").addresses) for name, h in fleet_hosts.items()}
    assert len(set(addrs.values())) == len(addrs), addrs
