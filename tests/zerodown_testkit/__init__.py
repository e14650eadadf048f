"""zerodown.deploy's test-support package (not part of the collection).

Used by the tests, molecule's verifiers, bench/ and demo/:

* ``zerodown_testkit.fleet``: the systemd-nspawn test fleet and the sample app
  (``python -m zerodown_testkit.fleet up|down|status|...``);
* ``zerodown_testkit.support``: HTTP(S) test servers, the load generator, the
  HAProxy/nginx harness and ``run_module`` (our modules through real Ansible);
* ``zerodown_testkit.e2e``: a zerodown.deploy playbook against a fleet, under load.

``make venv`` writes ``zerodown-dev.pth`` into the virtualenv's site-packages,
naming this checkout's ``tests/`` (and ``.collections``), so the package
imports from any directory, with no ``sys.path`` changes in code.
"""
