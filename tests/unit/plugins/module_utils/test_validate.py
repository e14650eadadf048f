"""_validate: the one check for names (full match), numbers (finite, bounded, ASCII digits) and paths."""

from __future__ import annotations

import math
import os
import threading

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until


@pytest.mark.parametrize("kind", sorted(validate.NAME_PATTERNS))
def test_a_trailing_newline_never_passes_a_name_check(kind):
    good = {"sql_identifier": "t", "systemd_service": "shop.service", "env_name": "A", "header_name": "X-A"}.get(
        kind, "app1"
    )
    assert validate.name(good, kind, "x") == good
    for bad in (good + "\n", good + "\x00", "\n" + good, good + "\r\n", None, 5, ""):
        with pytest.raises(validate.ValidationError, match="invalid x"):
            validate.name(bad, kind, "x")
        assert not validate.is_name(bad, kind)


def test_the_caller_chooses_the_error_class():
    with pytest.raises(KeyError):
        validate.name("a b", "lb", "server", KeyError)


def test_shown_truncates_huge_values():
    text = validate.shown("x" * 10000)
    assert len(text) < 120 and "(10000 characters)" in text
    assert validate.shown("ok") == "'ok'"


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, -1, 1e13, True, "nan", "inf", "\uff15", "\u0661\u0662", "1_000", [], None]
)
def test_numbers_must_be_finite_bounded_and_ascii(value):
    with pytest.raises(validate.ValidationError) as err:
        validate.number(value, "timeout", validate.WAIT)
    assert str(err.value).startswith("timeout=%s" % validate.shown(value))
    assert str(err.value).endswith("give 0 or more seconds, at most 2592000")


@pytest.mark.parametrize(
    "value, limit, expected",
    [
        (0, validate.WAIT, 0.0),
        ("2.5", validate.WAIT, 2.5),
        (" 60 ", validate.TIMEOUT, 60.0),
        (3600.0, validate.WHOLE_SECONDS, 3600),
        ("100", validate.REPEATS, 100),
        (65535, validate.PORT, 65535),
    ],
)
def test_numbers_in_range(value, limit, expected):
    out = validate.number(value, "x", limit)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value, limit", [(0, validate.TIMEOUT), (101, validate.REPEATS), (2.5, validate.PORT)])
def test_numbers_out_of_range(value, limit):
    with pytest.raises(validate.ValidationError):
        validate.number(value, "x", limit)


@pytest.mark.parametrize("value", ["\uff15", "\u0661\u0662", " 1\u0662", True, 1.5, None, "-1"])
def test_whole_number_text_takes_ascii_digits_only(value):
    assert "\uff15".isdigit() and "\u0661\u0662".isdigit()  # why str.isdigit is not the check
    with pytest.raises(validate.ValidationError, match="weight="):
        validate.whole_number_text(value, "weight")
    assert validate.whole_number_text(" 12 ", "weight") == 12


def test_nul_problem_names_the_option_and_never_quotes_the_value():
    params = {"dsn": "postgresql://u:s3cret\x00@h/db", "checks": [{"name": "ok"}, {"name": "a\x00"}]}
    problem = validate.nul_problem(params)
    assert problem == "dsn holds a NUL byte (at character 22): remove it" and "s3cret" not in problem
    assert validate.nul_problem({"checks": [{"name": "a\x00"}]}).startswith("checks[0].name holds a NUL byte")
    assert validate.nul_problem({"k\x00": 1}).startswith("parameters: the key")
    assert validate.nul_problem({"a": ["x", {"b": 1.0}], "c": None}) is None


@pytest.mark.parametrize("value", ["../x", "/etc", "a/../b", "", "a//b", None])
def test_relative_path(value):
    with pytest.raises(validate.ValidationError, match="must be a relative path inside the release"):
        validate.relative_path(value, "shared_dirs")
    assert validate.relative_path("config/app.env", "shared_files") == "config/app.env"


def test_regular_file_inside_refuses_fifos_devices_and_links_out_without_opening(tmp_path):
    (tmp_path / "ok.sql").write_text("SELECT 1;")
    os.symlink("ok.sql", tmp_path / "alias.sql")
    os.symlink("/etc/passwd", tmp_path / "passwd.sql")
    os.mkfifo(tmp_path / "fifo.sql")
    (tmp_path / "dir.sql").mkdir()
    assert validate.regular_file_inside(str(tmp_path / "alias.sql"), str(tmp_path), "f") == str(tmp_path / "ok.sql")
    for name, fragment in (
        ("passwd.sql", "resolves to /etc/passwd, outside"),
        ("fifo.sql", "is a FIFO"),
        ("dir.sql", "is a directory"),
        ("missing.sql", "cannot be read"),
    ):
        with pytest.raises(validate.ValidationError, match=fragment):
            validate.regular_file_inside(str(tmp_path / name), str(tmp_path), "migration file")
    with pytest.raises(validate.ValidationError, match="character device"):
        validate.regular_file_inside("/dev/zero", "/dev", "migration file")


def test_read_regular_file_never_blocks_on_a_fifo_swapped_in(tmp_path):
    fifo = tmp_path / "late.sql"
    os.mkfifo(fifo)
    outcome = {}

    def read():
        try:
            validate.read_regular_file(str(fifo), 100, "migration file")
        except validate.ValidationError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and "is a FIFO" in outcome["error"]
    (tmp_path / "big.sql").write_bytes(b"x" * 101)
    with pytest.raises(validate.ValidationError, match="larger than the 100 byte limit"):
        validate.read_regular_file(str(tmp_path / "big.sql"), 100, "migration file")
    os.symlink("big.sql", tmp_path / "link.sql")
    with pytest.raises(validate.ValidationError, match="cannot read"):
        validate.read_regular_file(str(tmp_path / "link.sql"), 1000, "migration file")  # O_NOFOLLOW
    assert validate.read_regular_file(str(tmp_path / "big.sql"), 101, "migration file") == b"x" * 101


@pytest.mark.parametrize("timeout, interval", [(math.nan, 1), (math.inf, 1), (1, math.nan), (1, math.inf), (-1, 1)])
def test_wait_until_refuses_waits_that_never_end(timeout, interval):
    with pytest.raises(ValueError, match="finite"):
        wait_until(lambda: False, timeout, interval, clock=FakeClock())
