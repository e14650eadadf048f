"""A load balancer for unit tests: its servers live in a dict, ``fail_apply`` makes a change that takes traffic
away fail half-way (like an HAProxy batch failing at its last command)."""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb


class FakeProvider(lb.Provider):
    kind = "fake"

    def __init__(self, ident, servers, fail_apply=False):
        super().__init__(ident)
        self.servers = {k: dict(v) for k, v in servers.items()}
        self.fail_apply = fail_apply
        self.applied = []
        self.sessions = {}
        self.shutdowns = 0

    def check_name(self, name, what="server"):
        if not isinstance(name, str) or ";" in name or "\n" in name:
            raise lb.LBValidationError("invalid %s %r" % (what, name))
        return name

    def read(self, backend):
        if backend != "app":
            raise lb.LBValidationError("no backend %r" % backend)
        return {k: dict(v, initial_weight=10, sessions=self.sessions.get(k, 0)) for k, v in self.servers.items()}

    def target_weight(self, info, weight):
        if isinstance(weight, str) and weight.endswith("%"):
            return info["initial_weight"] * int(weight[:-1]) // 100
        if not 0 <= int(weight) <= 256:
            raise lb.LBValidationError("invalid weight %r" % weight)
        return int(weight)

    def apply(self, backend, changes):
        self.applied.append(changes)
        if self.fail_apply and any(c.get("state") != "ready" for c in changes.values()):
            # half-applies, like an HAProxy batch failing at its last command
            first = sorted(changes)[0]
            self.servers[first].update(changes[first])
            raise lb.LBApplyError("boom")
        for name, change in changes.items():
            self.servers[name].update(change)

    def pending(self, backend, servers):
        return {s: self.sessions.get(s, 0) for s in servers}

    def shutdown(self, backend, servers):
        killed = sum(self.sessions.get(s, 0) for s in servers)
        self.shutdowns += 1
        for s in servers:
            self.sessions[s] = 0
        return killed
