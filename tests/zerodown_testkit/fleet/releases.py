"""Release tarballs of the sample app (app/ beside this file) for the end-to-end tests.

Every tarball unpacks (no top-level directory) into
``/opt/demoapp/releases/<name>``::

    VERSION            the release name, also sent as X-App-Version
    release.json       the variant's behaviour (see app/demoapp.py)
    bin/start          the ExecStart command
    app/demoapp.py
    migrations/        the SQL files this release needs, in order

Tarballs are reproducible (sorted entries, fixed mtime/owner, gzip mtime 0),
so a release has the same sha256 every time it is built.

Every variant runs under gunicorn (gthread worker, HTTP keep-alive), the
server production Python apps run behind load balancers that reuse server
connections; ``DEMOAPP_SERVER=stdlib`` in the environment runs the same
endpoints on http.server, one request per connection.

Variants:

* ``v1``, ``v2``: good releases; v2 ships an additive migration (a nullable
  column) that v1 keeps working with, and writes that column.
* ``v2-never-ready``: /health/ready never turns 200.
* ``v2-smoke-fail``: ready, but /smoke answers 500 and / says "broken".
* ``v2-5xx``: ready, but answers 500 to half of the non-health requests.
* ``v2-slow-stop``: keeps serving for 5 s after SIGTERM before it stops.
* ``v2-crash``: exits with status 3 at start, every time systemd restarts it.
* ``v2-late-5xx``: passes readiness and the smoke test, then answers 500 to
  half of the non-health requests (the bake window's case).
* ``v2-5xx-at-5s``: the same, from 5 s after the process starts (3 s after
  it is ready): it goes bad while a rolling deploy is still rolling it out
  (the analysis during the rollout's case).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

APP_DIR = Path(__file__).resolve().parent / "app"
APP_NAME = "demoapp"

_V1_MIGRATIONS = ["v1/0001_create_visits.sql"]
_V2_MIGRATIONS = _V1_MIGRATIONS + ["v2/0002_visits_add_note.sql"]
_V1 = {"ready_delay": 2.0, "server": "gunicorn"}
_V2 = dict(_V1, db_write_note=True)

VARIANTS: Dict[str, dict] = {
    "v1": {"migrations": _V1_MIGRATIONS, "config": dict(_V1)},
    "v2": {"migrations": _V2_MIGRATIONS, "config": dict(_V2)},
    "v2-never-ready": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, never_ready=True)},
    "v2-smoke-fail": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, smoke_fail=True)},
    "v2-5xx": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, error_rate=0.5)},
    "v2-slow-stop": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, stop_delay=5.0)},
    # exits with status 3 at start, every time systemd restarts it
    "v2-crash": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, exit_at_start=3)},
    # healthy through readiness and the smoke test, then half its answers are 5xx (the bake window's case)
    "v2-late-5xx": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, error_rate=0.5, error_after=20.0)},
    "v2-5xx-at-5s": {"migrations": _V2_MIGRATIONS, "config": dict(_V2, error_rate=0.5, error_after=3.0)},
}


@dataclass
class Release:
    name: str
    path: Path
    sha256: str
    config: dict
    migrations: List[str]

    @property
    def filename(self) -> str:
        return self.path.name


def _files(name: str) -> Dict[str, tuple]:
    """archive path -> (bytes, mode)"""
    variant = VARIANTS[name]
    config = dict(variant["config"], version=name)
    files = {
        "VERSION": ((name + "\n").encode(), 0o644),
        "release.json": ((json.dumps(config, indent=2, sort_keys=True) + "\n").encode(), 0o644),
        "bin/start": ((APP_DIR / "start").read_bytes(), 0o755),
        "app/demoapp.py": ((APP_DIR / "demoapp.py").read_bytes(), 0o644),
    }
    for rel in variant["migrations"]:
        files["migrations/" + Path(rel).name] = ((APP_DIR / "migrations" / rel).read_bytes(), 0o644)
    return files


def build(name: str, out: str) -> Release:
    if name not in VARIANTS:
        raise ValueError("unknown release %r: choose one of %s" % (name, ", ".join(VARIANTS)))
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        files = _files(name)
        dirs = sorted({str(Path(p).parent) for p in files if str(Path(p).parent) != "."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path in sorted(files):
            data, mode = files[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    target = outdir / ("%s-%s.tar.gz" % (APP_NAME, name))
    digest = hashlib.sha256(data).hexdigest()
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    (outdir / (target.name + ".sha256")).write_text("%s  %s\n" % (digest, target.name))
    return Release(
        name,
        target,
        digest,
        dict(VARIANTS[name]["config"], version=name),
        [Path(m).name for m in VARIANTS[name]["migrations"]],
    )


def build_all(out: str) -> List[Release]:
    releases = [build(name, out) for name in VARIANTS]
    manifest = {
        r.name: {
            "path": str(r.path),
            "file": r.filename,
            "sha256": r.sha256,
            "config": r.config,
            "migrations": r.migrations,
        }
        for r in releases
    }
    (Path(out) / "releases.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return releases


def migrations_sql(name: str) -> str:
    """The release's migrations concatenated, in order (for the fleet bootstrap)."""
    return "\n".join((APP_DIR / "migrations" / rel).read_text() for rel in VARIANTS[name]["migrations"])
