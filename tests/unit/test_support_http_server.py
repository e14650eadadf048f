from __future__ import annotations

import ssl
import urllib.request

from zerodown_testkit.support.http_server import Response, make_tls, serve


def test_serves_handler_responses_over_http():
    with serve(lambda req: Response(201, {"X-Version": "7"}, b"hello")) as srv:
        with urllib.request.urlopen(srv.url + "/x") as resp:
            assert resp.status == 201
            assert resp.headers["X-Version"] == "7"
            assert resp.read() == b"hello"
        assert [r.path for r in srv.requests] == ["/x"]


def test_serves_https_with_generated_ca(tmp_path):
    tls = make_tls(tmp_path)
    ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
    with serve(lambda req: Response(200, body=b"secure"), tls=tls) as srv:
        with urllib.request.urlopen(srv.url + "/", context=ctx) as resp:
            assert resp.read() == b"secure"
