"""Index validators: Portage must never be told 'not modified' about a changed index.

Portage sends If-Modified-Since = its cached TIMESTAMP + 5 s; an index that changed less
than 5 s after the client's copy must still be sent whole.
"""

from __future__ import annotations

import gzip
from email.utils import formatdate
from pathlib import Path

from tests.integration.server.conftest import Served, lease, upload


def _timestamp(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("TIMESTAMP: "))[11:])


def test_index_changed_within_five_seconds_is_not_304(served: Served,
                                                      laptop_packages: dict[str, Path]) -> None:
    http, auth = served.http, served.auth
    served.clock.now += 1000
    first = http.get("/binhost/desktop/Packages")
    cached = _timestamp(first.text)
    assert first.headers["last-modified"] == formatdate(cached, usegmt=True)
    portage_ims = {"If-Modified-Since": formatdate(cached + 5, usegmt=True)}
    assert http.get("/binhost/desktop/Packages", headers=portage_ims).status_code == 304
    assert http.get("/binhost/desktop/Packages",
                    headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert http.get("/binhost/desktop/Packages",
                    headers={"If-Modified-Since": first.headers["last-modified"]}
                    ).status_code == 200

    served.clock.now += 2  # the index changes 2 s after the client's copy
    [build] = http.post("/api/v1/builds", json={"profile": "desktop", "atoms": ["wordcount"]},
                        headers=auth).json()
    assert lease(served, "wv")["id"] == build["id"]
    assert upload(served, build["id"], "wv", laptop_packages["wordcount"])[0] == 201
    http.post(f"/api/v1/builds/{build['id']}/finish", json={"worker": "wv", "ok": True},
              headers=auth)  # published once the build succeeded

    again = http.get("/binhost/desktop/Packages", headers=portage_ims)
    assert again.status_code == 200
    assert "app-misc/wordcount-1.0" in again.text
    assert _timestamp(again.text) > cached
    assert again.headers["etag"] != first.headers["etag"]
    gz = http.get("/binhost/desktop/Packages.gz")
    assert gzip.decompress(gz.content).decode() == again.text
    assert gz.headers["etag"] != again.headers["etag"]
    assert http.head("/binhost/desktop/Packages").headers["content-length"] == \
        str(len(again.content))
