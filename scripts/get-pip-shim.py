"""Offline stand-in for the get-pip.py that ansible-test downloads.

ansible-test bootstraps pip in the virtualenvs it creates for sanity tests by
running a get-pip.py fetched from its own CI file server, which machines that
only reach PyPI cannot download. This script does the same job with the
standard library's ensurepip, then installs the requested pip version (and any
other packages named) from the configured package index. ansible-test runs it
in-process with the get-pip arguments in sys.argv.
"""

import subprocess
import sys

ARGS = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + ARGS)
