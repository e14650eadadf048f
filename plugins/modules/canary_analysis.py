#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_analysis
short_description: Judge a canary step from the load balancer's own per-server counters (HAProxy, or nginx's access log)
version_added: 0.1.0
description:
  - Compares canary servers with baseline servers over the same interval, from the difference between two readings
    of HAProxy's C(show stat) counters, summed over every load balancer in O(socket), or, with O(provider=nginx),
    from the lines nginx wrote to its access log O(nginx.access_log) in between. No metrics system is needed.
  - O(state=snapshot) reads the counters of the backend's servers and returns them as RV(snapshot), to be given back
    as O(since) when the step ends.
  - O(state=analyze) judges one canary step since O(since) (or, without O(since), since a snapshot taken at the
    start of the call). It reads the counters every O(poll_interval) seconds and judges each reading (a look) once the
    canary has O(min_requests) requests; the first look that fails ends the step at once (with O(take_out_on_fail)
    the canary is taken out in the same call), so a failing canary is caught within seconds instead of at the end of
    its pause. The step passes only once O(pause) is over with O(min_requests) canary requests; O(max_wait) keeps
    reading after the pause while it has fewer; a step that ends with fewer is V(inconclusive), never V(pass). Each
    look uses O(significance) divided by the number of looks (RV(looks) = (O(pause) + O(max_wait)) / O(poll_interval),
    Bonferroni), so looking often does not raise the chance of a false alarm. It returns RV(verdict) V(pass),
    V(fail) or V(inconclusive) with the measured values, the test statistics and a RV(reason) naming them against
    the thresholds. Its RV(snapshot) is where the next step starts.
  - "Error rate: requests are C(stot), errors are 5xx answers (C(hrsp_5xx)), connection errors (C(econ)) and
    response errors (C(eresp)); for nginx, see O(nginx.access_log). Errors count from the first request of the step.
    The canary fails when its error rate is higher than the baseline's by a one-sided Fisher exact test (p below the
    look's significance), or higher than O(max_error_rate) by a one-sided exact binomial test. Exact tests stay right
    at small counts: one error in 40 canary requests at a 5 % step (p=0.05) does not fail, 5 % errors over a busy
    step does."
  - "Latency: the canary breaches only when it is slower than the baseline by more than O(max_latency_ratio) B(and)
    by more than O(min_latency_increase_ms) milliseconds (default 50: a canary at 8.5 ms against 5.2 ms is noise
    nobody rolls back for, one 300 ms slower still fails). The response times of the first O(warmup) seconds of the
    step (default 5) are not judged, since a just-started process is slower for its first seconds; errors are. Where
    per-request response times exist (20 or more on each side), the test is a one-sided Mann-Whitney U test of the
    canary's values against the baseline's each raised to max(b x O(max_latency_ratio), b + O(min_latency_increase_ms)),
    failing at the look's significance. Where only means exist (HAProxy C(show stat)), the means must breach over
    O(latency_looks) consecutive looks (default 3; a step judged fewer times needs every look it had)."
  - HAProxy keeps no cumulative response time, only C(rtime), an average over a sliding window of 512 samples; the
    module recovers the step's own mean from C(rtime) and the request counter at both ends. nginx logs each
    request's C($upstream_response_time), so its step mean is exact.
  - Each request's response time is kept (up to 50,000 per group) from nginx's access log, and for HAProxy from its
    log when O(haproxy.log) names it (C(Tr) of C(option httplog) lines; the mean stays the one from C(show stat)).
  - A canary with fewer than O(min_requests) requests in the step is V(inconclusive), never V(pass);
    O(max_wait) keeps reading until it has them or the time is up.
  - O(state=bake) is the bake window after the last switch of a deploy. For O(pause) seconds it watches the servers
    taking traffic (O(canary_servers), by default every server that is ready with a weight above 0 when the window
    starts) and compares them with O(before), the snapshot taken before the deploy (every server of the backend, its
    counters since HAProxy started), with the same tests and the same looks as a canary step (warm-up and
    O(latency_looks) included). It judges every O(poll_interval) seconds and stops at the first look that fails, so
    a release that goes bad after its smoke test is caught within seconds; each look uses O(significance) divided by
    the number of looks (Bonferroni). A window that ends with fewer than O(min_requests) requests is
    V(inconclusive).
  - O(state=tally) counts what the servers of O(before) did since it was taken, per server and in total, for the
    deploy's summary and report (C(zerodown.deploy.deploy) calls it at its end, success or rollback alike, with the
    snapshot taken at preflight) - RV(measured), RV(total), RV(servers) - and records it in O(ledger) as a step
    named V(tally). Failed requests are 5xx answers, connection errors and response errors; HAProxy's retries
    (C(wretr)) and redispatches (C(wredis)) are reported beside them (0 with nginx, whose access log shows neither). It never
    fails for what keeps it from counting - nginx without O(nginx.access_log), a HAProxy reloaded or restarted since
    O(before) (its counters started again), an access log rotated or unreadable, no O(before) - it returns
    RV(measured=false) with RV(reason) instead.
  - O(state=rollout) is the analysis during a rolling or blue-green rollout, so that a release that goes bad while
    it rolls out is stopped within a batch. O(entered) lists what moved so far, one entry per batch with the snapshot
    taken just before it moved (while it was drained). The call judges the moved servers (each entry from its
    snapshot to now, summed) against the servers not moved yet over the same time (since the first entry's
    snapshot), or, when none is left or they served nothing, against O(before) as the bake window does. With
    O(pause) 0 it judges once what was seen so far; with O(pause) above 0 it watches that long, a look every
    O(poll_interval) seconds (each at O(significance) divided by the looks), stopping at the first that fails.
    It returns RV(entered), the given entries plus one for O(entering) with a snapshot taken now, to pass to the
    next call. Fewer than O(min_requests) requests on the moved servers is V(inconclusive), and the rollout goes
    on; with O(require_pass) only V(fail) fails the task.
  - The module only reads, unless O(take_out_on_fail) drains a canary that did not pass; it never changes a weight,
    and does not fail on a V(fail) verdict (test RV(verdict) in the play, or set O(require_pass)).
  - "nginx open source keeps no per-server counters: with O(provider=nginx) the module counts them from the access
    log O(nginx.access_log), which nginx must write in this log format (in the C(http) block), C(log_format zerodown
    '\"$upstream_addr\" \"$upstream_status\" \"$upstream_connect_time\" \"$upstream_header_time\"
    \"$upstream_response_time\"';), with C(access_log /var/log/nginx/zerodown-access.log zerodown;) where the
    upstream is proxied. A line that does not match fails the task naming the file, the line and this format."
  - "For nginx, a snapshot records the log file's device, inode and the byte offset after its last complete line;
    a step reads only the bytes written since, so its cost follows the step's traffic, not the log's size. A line
    counts on the server of the last address of C($upstream_addr) (C(a, b) lists retries, C(a : b) internal
    redirects: the last attempt is the one the client got, earlier ones count nowhere); C(-) (nginx answered
    itself) counts nowhere. A received header is a response (5xx C($upstream_status) is an error, and its
    C($upstream_response_time) a latency sample); no header with status 502 or 504 (nginx's own answer) is a
    connection error when C($upstream_connect_time) is C(-), else a response error."
  - With O(provider=nginx) the module reads the log locally, so it must run on the nginx host (C(delegate_to) the
    load-balancer host; the C(zerodown.deploy.canary) role runs it on the plan's lock host, the first load-balancer
    host).
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.attributes
  - zerodown.deploy.load_balancer
  - zerodown.deploy.lb_description
  - zerodown.deploy.ledger_record
attributes:
  check_mode:
    support: full
    details: The module reads, so check mode runs it fully, including the pause; O(take_out_on_fail) changes nothing
      in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: >-
      Changes nothing (C(changed=false)) except with O(take_out_on_fail) on a step that did not pass; two runs read
      different counters, so their measurements differ.
options:
  state:
    description:
      - V(snapshot) returns the current counters; V(analyze) judges a canary step; V(bake) watches the new
        release for O(pause) seconds against O(before); V(tally) counts the requests and failed requests since
        O(before); V(rollout) judges what moved so far in a rollout (O(entered)) and adds O(entering) to the list it
        returns.
    type: str
    choices: [snapshot, analyze, bake, tally, rollout]
    default: analyze
  servers:
    description:
      - With O(state=snapshot), the servers to record; all servers of O(backend) when omitted.
      - nginx servers are C(host:port) as written in O(nginx.servers_file), here and in O(canary_servers) and
        O(baseline_servers).
    type: list
    elements: str
  canary_servers:
    description:
      - Servers running the new release. Required with O(state=analyze).
      - With O(state=bake), the servers to watch; when omitted, every server that is ready with a weight above 0 on
        any load balancer when the window starts.
    type: list
    elements: str
  baseline_servers:
    description:
      - Servers running the current release, to compare with. Every other server of O(backend) in O(since) when
        omitted.
    type: list
    elements: str
  since:
    description:
      - The RV(snapshot) an earlier call returned, taken on the same O(socket) list (or nginx) and O(backend); the
        step starts there.
      - Without it the module takes a snapshot itself at the start, and O(pause) must be above 0.
    type: dict
  before:
    description:
      - With O(state=bake), and required there, the RV(snapshot) of a O(state=snapshot) call made before the deploy
        (without O(servers)); what the backend's servers had done until then is the reference.
      - With O(state=tally), the snapshot to count from; omitted or empty, RV(measured) is V(false) with the reason.
      - With O(state=rollout), optional, the same snapshot, the reference when no unmoved server served requests
        (without it, only O(max_error_rate) applies then).
    type: dict
  entered:
    description:
      - "With O(state=rollout), and required there, the servers already moved to the new release, one entry per batch
        as C({servers: [web1], snapshot: {...}}), the snapshot taken (by the O(state=rollout) call before that batch
        moved, or O(state=snapshot)) while the batch was drained and served nothing. An entry without C(snapshot) is
        counted from the start of this call (a blue-green watch of the new colour after the switch)."
      - V([]) at the first batch; then the RV(entered) the previous call returned.
    type: list
    elements: dict
  entering:
    description:
      - With O(state=rollout), the servers about to move now (drained); the returned RV(entered) ends with them and
        a snapshot taken at the end of this call. Empty or omitted when nothing moves next.
    type: list
    elements: str
  pause:
    description:
      - Seconds the step lasts (it is judged every O(poll_interval) seconds meanwhile, and can fail before the end;
        it passes only once they are over).
      - With O(state=bake), the length of the bake window.
      - With O(state=rollout), how long to watch (0 judges once what was seen so far).
    type: float
    default: 0
  max_wait:
    description:
      - After O(pause), seconds to keep reading (every O(poll_interval)) while the canary has fewer than
        O(min_requests) requests in the step. 0 ends the step with the pause.
    type: float
    default: 0
  poll_interval:
    description:
      - Seconds between two looks (readings of the counters, each judged) of a step or of O(state=bake).
    type: float
    default: 1.0
  min_requests:
    description:
      - Canary requests a step needs before it can pass or fail; fewer is V(inconclusive).
    type: int
    default: 100
  max_error_rate:
    description:
      - Error rate the canary must not significantly exceed, as a fraction (V(0.01) is 1 %), whatever the baseline
        does.
    type: float
    default: 0.01
  max_latency_ratio:
    description:
      - Largest allowed ratio of the canary's response time to the baseline's (V(1.5) fails a canary 50 %
        slower), when it is also more than O(min_latency_increase_ms) slower.
    type: float
    default: 1.5
  min_latency_increase_ms:
    description:
      - A latency breach also needs the canary this many milliseconds slower than the baseline (both conditions).
      - The default 50 ms keeps a few milliseconds of noise from rolling back a healthy canary (8.5 ms against
        5.2 ms is a ratio of 1.65 but nobody rolls back for 3 ms), while a canary 300 ms slower still fails.
    type: float
    default: 50.0
  warmup:
    description:
      - Seconds at the start of the step (of the call) whose response times are not judged, because a just-started
        process answers slower for its first seconds. Errors count from the first request regardless.
      - Latency is judged on the counts since the first reading taken after the warm-up; a step that ends sooner is
        judged whole.
    type: float
    default: 5.0
  latency_looks:
    description:
      - Where only mean response times exist (HAProxy C(show stat)), the consecutive looks a latency breach must
        hold before it fails the step (a decaying mean and a slow first second do not roll back on one reading).
      - Where per-request response times exist, the Mann-Whitney U test decides at once and this is not used.
    type: int
    default: 3
  thresholds:
    description:
      - All the thresholds in one dict (keys O(min_requests), O(max_error_rate), O(max_latency_ratio),
        O(significance), O(min_latency_ms), O(min_latency_increase_ms), O(warmup), O(latency_looks)); a key given
        here stands for the option of the same name. An unknown key fails the task naming it.
      - The deploy playbook passes C(zerodown_plan.thresholds), the plan's one thresholds dict.
    type: dict
  min_latency_ms:
    description:
      - Means below this many milliseconds count as this value in the latency ratio of the means. HAProxy measures whole
        milliseconds, so a 1 ms against 3 ms difference is noise, not a 3x slowdown.
    type: float
    default: 5.0
  significance:
    description:
      - P-value below which a higher canary error rate or response time is not put down to chance, for all the
        one-sided tests, over the whole step or bake window (each look uses it divided by RV(looks)).
    type: float
    default: 0.01
  take_out_on_fail:
    description:
      - With O(state=analyze), when the step does not pass, drain the canary servers at once, in this same call, on
        every load balancer where a baseline server takes traffic (ready, weight above 0), so that a failing canary
        stops answering right at the verdict instead of until the next task takes it out.
      - It then waits for the canary's in-flight requests (up to 10 s), reads the counters once more and returns
        RV(until_out), what the canary served over the whole step including the moments after the verdict, so the
        failed requests it caused are counted, not estimated.
      - On a load balancer where no baseline server takes traffic (a 100 % step) the canary is left serving; the
        caller's rollback restores the weights and takes the canary out in one call. Weights are never changed here.
      - A load balancer that refuses the change does not stop the others; the canary is taken out wherever it can
        be, and the ones that refused are reported in RV(not_taken_out) (and as a warning).
    type: bool
    default: false
  require_pass:
    description:
      - Fail the task unless the verdict is V(pass) (after recording the step in O(ledger)), with RV(reason) as the
        message and the whole analysis in the result; a strategy role uses it so that a failed or inconclusive step
        triggers the rollback.
    type: bool
    default: false
notes:
  - HAProxy counters live in the HAProxy process. A reload or restart (or C(clear counters)) between O(since) and
    the end of the step makes the step unmeasurable; the module detects it (process id and start time from
    C(show info), counters going down) and fails saying so, rather than report a negative or partial rate.
  - The nginx access log rotated or truncated between O(since) and the end of the step (another inode, or shorter
    than the snapshot's offset) makes the step unmeasurable in the same way, and the module fails saying so. A
    reload of nginx (as M(zerodown.deploy.switch_traffic) does) is no problem. With C(buffer=) on the
    C(access_log), lines are counted only once nginx writes them (at most C(flush=) later); better leave it out.
  - HAProxy's log O(haproxy.log) rotated or truncated between O(since) and the end of the step fails the step in
    the same way. It lags C(show stat) by the time syslog takes to write a line (milliseconds), so a request that
    ended just before a snapshot may give its response time to the next step. With several HAProxy sockets, the
    file holds the lines of the processes that log to it.
  - With several nginx load balancers, each writes its own log; the module reads the one of the nginx it runs
    beside, a sample of the traffic that the weights share alike.
  - Requests that HAProxy retries or redispatches to another server count on the server that finally answered
    them; use C(retries 0) and no C(option redispatch) (nginx, C(proxy_next_upstream off)) so that a failing
    canary shows its errors.
  - Shares of traffic for the steps are set with M(zerodown.deploy.switch_traffic) weights.
seealso:
  - module: zerodown.deploy.switch_traffic
  - name: HAProxy management guide, CSV format of show stat
    description: The meaning of C(stot), C(hrsp_5xx), C(econ), C(eresp), C(req_tot) and C(rtime).
    link: https://docs.haproxy.org/2.6/management.html#9.1
  - name: nginx upstream module, embedded variables
    description: C($upstream_addr), C($upstream_status), C($upstream_connect_time), C($upstream_header_time),
      C($upstream_response_time).
    link: https://nginx.org/en/docs/http/ngx_http_upstream_module.html#variables
"""

EXAMPLES = r"""
- name: Counters before the step
  zerodown.deploy.canary_analysis:
    socket: /run/haproxy/admin.sock
    backend: app
    state: snapshot
  register: before

- name: Send 5 % of requests to the canary
  zerodown.deploy.switch_traffic:
    socket: /run/haproxy/admin.sock
    backend: app
    servers:
      web4: {weight: 3}
      web1: {weight: 19}
      web2: {weight: 19}
      web3: {weight: 19}

- name: Judge the step after 60 s (up to 120 s more if traffic is thin)
  zerodown.deploy.canary_analysis:
    socket: /run/haproxy/admin.sock
    backend: app
    canary_servers: [web4]
    baseline_servers: [web1, web2, web3]
    since: "{{ before.snapshot }}"
    pause: 60
    max_wait: 120
    min_requests: 200
    max_error_rate: 0.01
    max_latency_ratio: 1.5
  register: step

- name: Stop the canary on a failed step
  ansible.builtin.fail:
    msg: "canary failed: {{ step.reason }}"
  when: step.verdict == 'fail'

- name: One call per step, on two HAProxy processes of this load-balancer host (snapshot at the start, 30 s pause)
  zerodown.deploy.canary_analysis:
    socket: [/run/haproxy/admin.sock, /run/haproxy/admin-2.sock]
    backend: app
    canary_servers: [web4]
    pause: 30
  register: step
- name: Before the deploy, the counters of every server
  zerodown.deploy.canary_analysis:
    socket: /run/haproxy/admin.sock
    backend: app
    state: snapshot
  register: before_deploy

# ... the deploy switches traffic to the new release, the smoke test passes ...

- name: Bake for 5 minutes - roll back when the new release errs or slows down against the fleet before the deploy
  zerodown.deploy.canary_analysis:
    socket: /run/haproxy/admin.sock
    backend: app
    state: bake
    before: "{{ before_deploy.snapshot }}"
    pause: 300
    poll_interval: 5
    require_pass: true

- name: At the end of the deploy (success or rollback), the failed requests since the snapshot, per server
  zerodown.deploy.canary_analysis:
    socket: /run/haproxy/admin.sock
    backend: app
    state: tally
    before: "{{ before_deploy.snapshot }}"
  register: tally
  # tally.measured, tally.total.failed, tally.total.requests, tally.servers; tally.reason when not measured

# nginx.conf, http block:
#   log_format zerodown '"$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_header_time"
#                        "$upstream_response_time"';   (one line)
#   access_log /var/log/nginx/zerodown-access.log zerodown;
- name: One step through nginx, on the nginx host (the servers are host:port as in the servers file)
  zerodown.deploy.canary_analysis:
    provider: nginx
    nginx:
      conf: /etc/nginx/nginx.conf
      servers_file: /etc/nginx/zerodown/app.servers
      access_log: /var/log/nginx/zerodown-access.log
    backend: app
    canary_servers: ["10.0.0.14:8080"]
    pause: 30
  delegate_to: lb1
  register: step
"""

RETURN = r"""
snapshot:
  description:
    - Counters read at the end of the call (for O(state=snapshot), now), per load balancer and server, with the
      HAProxy process id and start time. Give it as O(since) to the call that ends the next step.
    - "C(source) is V(haproxy) (a snapshot without it is HAProxy's too) or V(nginx_access_log). An nginx snapshot
      has, for its servers file, C(access_log), C(dev) and C(ino) (the log file's identity), C(offset) (the byte
      after its last complete line) and per server the C(addresses) nginx logs for it, such as
      C({access_log: /var/log/nginx/zerodown-access.log, dev: 2049, ino: 131074, offset: 52440,
      servers: {10.0.0.11:8080: {addresses: [10.0.0.11:8080]}}})."
    - "With O(haproxy.log), a HAProxy snapshot also has C(log): C({path: /var/log/haproxy.log, dev: 2049, ino: 131080,
      offset: 918220}), the log file's identity and the byte after its last complete line."
  returned: always
  type: dict
  sample:
    version: 1
    source: haproxy
    backend: app
    taken_at: 1796110930.52
    load_balancers:
      /run/haproxy/admin.sock:
        pid: 4242
        started: 1796100000
        servers:
          web1: {stot: 1520, lbtot: 1520, req_tot: 1520, econ: 0, eresp: 0, hrsp_1xx: 0, hrsp_2xx: 1518, hrsp_3xx: 0,
                 hrsp_4xx: 2, hrsp_5xx: 0, hrsp_other: 0, rtime: 12}
analysis:
  description: What was judged - V(canary) (O(state=analyze)), V(bake) or V(rollout).
  returned: when O(state=analyze), O(state=bake) or O(state=rollout)
  type: str
  sample: canary
verdict:
  description: V(pass), V(fail) or V(inconclusive) (fewer than O(min_requests) canary requests).
  returned: when O(state) is not V(snapshot)
  type: str
  sample: fail
reason:
  description:
    - The measured values against the thresholds, in words.
    - With O(state=tally), why the requests were not counted (null when RV(measured)), and how to count them.
  returned: when O(state) is not V(snapshot)
  type: str
  sample: "canary error rate 5.00 % (50 of 1000) is above the baseline's 0.00 % (0 of 19000): one-sided Fisher exact
    p=1.2e-65 < significance 0.01"
failures:
  description: Each threshold the canary broke, in words; empty unless RV(verdict) is V(fail).
  returned: when O(state) is not V(snapshot)
  type: list
  elements: str
canary:
  description:
    - What the canary servers did over the step, summed over servers and load balancers.
    - C(requests), C(errors), C(error_rate) (a fraction, null without requests), C(http_5xx), C(connection_errors),
      C(response_errors), C(latency_ms) (mean server response time over the step, null without responses).
  returned: when O(state) is not V(snapshot)
  type: dict
  sample: {requests: 1000, errors: 50, error_rate: 0.05, http_5xx: 50, connection_errors: 0, response_errors: 0,
           latency_ms: 14.2}
baseline:
  description: The same for the baseline servers.
  returned: when O(state) is not V(snapshot)
  type: dict
  sample: {requests: 19000, errors: 0, error_rate: 0.0, http_5xx: 0, connection_errors: 0, response_errors: 0,
           latency_ms: 13.9}
tests:
  description:
    - The two one-sided tests of the error rate, each with C(test), C(p_value) and C(significant)
      (p below O(significance)).
    - C(error_rate_vs_baseline) is the Fisher exact test against the baseline (null p-value without baseline
      requests); C(error_rate_vs_max) the exact binomial test against O(max_error_rate).
  returned: when O(state) is not V(snapshot)
  type: dict
  sample:
    error_rate_vs_baseline: {test: one-sided Fisher exact, p_value: 1.2e-65, significant: true}
    error_rate_vs_max: {test: one-sided exact binomial, p_value: 2.1e-20, significant: true}
latency:
  description:
    - The latency finding of the last look, C(test) (V(Mann-Whitney U), V(means), V(none) with nothing to compare,
      V(warming up)), C(breach), C(canary_ms) and C(baseline_ms) (means), C(increase_ms), C(p_value) (Mann-Whitney
      U), C(values) (per-request values used), C(warmup_excluded) (seconds left out) and C(held_looks)
      (consecutive looks a breach of the means held).
  returned: when O(state=analyze) or O(state=bake)
  type: dict
  sample: {test: means, breach: false, canary_ms: 8.5, baseline_ms: 5.2, increase_ms: 3.3, p_value: null,
           values: {canary: 0, baseline: 0}, warmup_excluded: 5.0, held_looks: 0}
latency_ratio:
  description: Canary mean response time over the baseline's (each at least O(min_latency_ms)); null when either
    had no response.
  returned: when O(state) is not V(snapshot)
  type: float
  sample: 1.02
thresholds:
  description: The thresholds the last look was judged against (O(significance) divided by RV(looks)).
  returned: when O(state) is not V(snapshot) or V(tally)
  type: dict
  sample: {min_requests: 100, max_error_rate: 0.01, max_latency_ratio: 1.5, significance: 0.0003, min_latency_ms: 5.0,
           min_latency_increase_ms: 50.0, warmup: 5.0, latency_looks: 3}
servers:
  description:
    - The same counts as RV(canary) for each canary and baseline server.
    - With O(state=tally), the same counts as RV(total) for each server of O(before) (empty when not
      RV(measured)).
  returned: when O(state) is not V(snapshot)
  type: dict
  sample: {web4: {requests: 1000, errors: 50, error_rate: 0.05, http_5xx: 50, connection_errors: 0,
           response_errors: 0, latency_ms: 14.2}}
canary_servers:
  description: The canary servers judged.
  returned: when O(state) is not V(snapshot)
  type: list
  elements: str
  sample: [web4]
baseline_servers:
  description:
    - The baseline servers compared with (O(baseline_servers), or every other server of the snapshot).
    - With O(state=bake), every server of O(before), whose counters before the deploy are the reference.
  returned: when O(state) is not V(snapshot)
  type: list
  elements: str
  sample: [web1, web2, web3]
step_seconds:
  description: Seconds between the snapshot given as O(since) (or taken at the start) and the final reading.
  returned: when O(state) is not V(snapshot)
  type: float
  sample: 60.4
waited_seconds:
  description: Seconds this call spent in O(pause) and O(max_wait).
  returned: when O(state) is not V(snapshot)
  type: float
  sample: 60.0
taken_out:
  description: The load balancers on which O(take_out_on_fail) drained the canary servers.
  returned: when O(take_out_on_fail) drained them
  type: list
  elements: str
not_taken_out:
  description: The load balancers that refused to drain the canary for O(take_out_on_fail), with the reason.
  returned: when a load balancer refused
  type: dict
  sample: {"/run/haproxy/admin.sock": "haproxy load balancer /run/haproxy/admin.sock: connection refused"}
until_out:
  description:
    - What the canary served from the start of the step until it was taken out (the same counts as RV(canary)).
  returned: when O(take_out_on_fail) drained the canary
  type: dict
  sample: {requests: 137, errors: 70, error_rate: 0.511, http_5xx: 70, connection_errors: 0, response_errors: 0,
           latency_ms: 3.2}
entered:
  description:
    - "With O(state=rollout), the entries given in O(entered) (an entry without snapshot given the one taken at the
      start of the call) plus C({servers: O(entering), snapshot: ...}) with the last snapshot of this call; pass it
      as O(entered) to the next call."
  returned: when O(state=rollout)
  type: list
  elements: dict
reference:
  description:
    - With O(state=rollout), what the moved servers were judged against - V(unmoved) (the servers not moved yet,
      over the same time), V(before) (O(before), the fleet before the deploy) or V(none) (nothing moved yet).
  returned: when O(state=rollout)
  type: str
  sample: unmoved
looks:
  description: How many looks the step or bake window was planned for (each at O(significance) / looks).
  returned: when O(state=analyze), O(state=bake) or O(state=rollout)
  type: int
  sample: 60
looked:
  description: How many looks were taken; fewer than RV(looks) when a look failed or the step had its requests.
  returned: when O(state=analyze), O(state=bake) or O(state=rollout)
  type: int
  sample: 14
stopped_early:
  description: Whether a look failed before the step's (or window's) time was up, ending it there.
  returned: when O(state=analyze) or O(state=bake)
  type: bool
  sample: true
enough_at:
  description:
    - The first look at which the canary (or, for the bake window, the new release) had O(min_requests) requests,
      0 when none had; a failing step stops at that look or later, so RV(looked) minus RV(enough_at) is how many
      looks a bad release served after it could be judged.
  returned: when O(state=analyze) or O(state=bake)
  type: int
  sample: 5
measured:
  description: With O(state=tally), whether the load balancer's counters could be counted since O(before).
  returned: when O(state=tally)
  type: bool
  sample: true
total:
  description:
    - With O(state=tally), over every server of O(before) and every load balancer, C(requests), C(failed) (5xx
      answers, connection errors and response errors, at most C(requests)), C(http_5xx), C(connection_errors),
      C(response_errors), C(retries), C(redispatches). Null when not RV(measured).
  returned: when O(state=tally)
  type: dict
  sample: {requests: 12345, failed: 0, http_5xx: 0, connection_errors: 0, response_errors: 0, retries: 0,
           redispatches: 0}
seconds:
  description: With O(state=tally), seconds between O(before) and the reading that ends the count.
  returned: when O(state=tally)
  type: float
  sample: 74.2
"""

import functools  # noqa: E402

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.analyze import run  # noqa: E402


def main(clock=None):
    argument_spec = dict(lb.ARGUMENT_SPEC)
    argument_spec.update(
        state=dict(type="str", default="analyze", choices=["snapshot", "analyze", "bake", "tally", "rollout"]),
        servers=dict(type="list", elements="str"),
        canary_servers=dict(type="list", elements="str"),
        baseline_servers=dict(type="list", elements="str"),
        since=dict(type="dict"),
        before=dict(type="dict"),
        entered=dict(type="list", elements="dict"),
        entering=dict(type="list", elements="str"),
        pause=dict(type="float", default=0),
        max_wait=dict(type="float", default=0),
        poll_interval=dict(type="float", default=1.0),
        require_pass=dict(type="bool", default=False),
        take_out_on_fail=dict(type="bool", default=False),
        ledger=dict(type="dict", options=ledger.RECORD_SPEC),
        thresholds=dict(type="dict"),
    )
    argument_spec.update(canary.Thresholds.argument_spec())
    # clock: the unit tests' FakeClock
    run_module(argument_spec, functools.partial(run, clock=clock))


if __name__ == "__main__":
    main()
