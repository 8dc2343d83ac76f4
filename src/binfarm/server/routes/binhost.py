"""The binhost: each profile's channels' Packages indexes and the package files they list:
`/binhost/<profile>/` is the stable channel, `/binhost/<profile>/testing/` the testing one.

Portage asks for an index with If-Modified-Since set to its cached TIMESTAMP + 5 s and
reads the body only when Last-Modified is newer than that TIMESTAMP. TIMESTAMP moves
forward on every change (store/catalog.py), Last-Modified is TIMESTAMP, and a 304 is
given only for Portage's exact form (or a matching ETag): a plain "IMS >= Last-Modified"
test would answer 304 to a client whose index is up to 5 s stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from binfarm.farm import Farm
from binfarm.publish.indexes import BuiltIndex
from binfarm.rollout.channels import Channel
from binfarm.server.deps import BinhostReader, FarmDep

__all__ = ["router"]

router = APIRouter(prefix="/binhost/{profile}", tags=["binhost"], dependencies=[BinhostReader])

PORTAGE_IMS_TOLERANCE_S: Final = 5  # portage/util/_urlopen.py TIMESTAMP_TOLERANCE


class PackageFile(FileResponse):
    # Reads of 1 MiB, not Starlette's 64 KiB: a tenth of the event loop's round trips
    # per package, which is what bounds a large file's throughput (bench/binhost.py).
    chunk_size = 1 << 20
_INDEX_RESPONSES: Final = {200: {"content": {"text/plain": {}}}, 304: {}}


def _op(what: str, channel: Channel) -> str:
    """The operation id: get_packages_index for stable, get_testing_packages_index..."""
    return f"get_{what}" if channel == Channel.STABLE else f"get_{channel}_{what}"


def _index_routes(prefix: str, channel: Channel) -> None:
    @router.get(f"{prefix}/Packages", response_class=Response, responses=_INDEX_RESPONSES,
                name=_op("packages_index", channel))
    @router.head(f"{prefix}/Packages", include_in_schema=False)
    def get_packages_index(profile: str, request: Request, farm: FarmDep) -> Response:
        started = time.perf_counter()
        index = farm.binhost_index(profile, channel)
        return _index_response(request, index, lambda: index.encoded,
                               "text/plain; charset=utf-8", etag_suffix="", started=started,
                               counted=(farm, profile))

    @router.get(f"{prefix}/Packages.gz", response_class=Response,
                responses={200: {"content": {"application/gzip": {}}}, 304: {}},
                name=_op("packages_index_gz", channel))
    @router.head(f"{prefix}/Packages.gz", include_in_schema=False)
    def get_packages_index_gz(profile: str, request: Request, farm: FarmDep) -> Response:
        started = time.perf_counter()
        index = farm.binhost_index(profile, channel)
        return _index_response(request, index, lambda: index.gzipped, "application/gzip",
                               etag_suffix="-gz", started=started, counted=(farm, profile))

    @router.get(f"{prefix}/{{path:path}}", response_class=PackageFile,
                responses={200: {"content": {"application/octet-stream": {}}}, 206: {}},
                name=_op("package_file", channel))
    @router.head(f"{prefix}/{{path:path}}", include_in_schema=False)
    def get_package_file(profile: str, path: str, farm: FarmDep) -> PackageFile:
        """A package file, looked up by its PATH in the channel's index (never joined into
        a file path)."""
        instance = farm.binhost_file(profile, path, channel)
        farm.metrics.binhost_requests.labels(profile, "package").inc()
        farm.metrics.binhost_bytes.labels(profile).inc(instance.size)
        return PackageFile(farm.blobs.open_existing(instance.sha256),
                            media_type="application/octet-stream",
                            headers={"ETag": f'"{instance.sha256}"',
                                     "Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/.binfarm-auth", status_code=204, response_class=Response,
            name="check_binhost_access")
def check_binhost_access(profile: str, farm: FarmDep) -> Response:
    """204 when the credentials sent may read this profile's binhost (401/403 when not):
    what nginx asks (`auth_request`) before serving the published tree."""
    farm.profiles.get(profile)
    return Response(status_code=204)


# The testing channel first: its prefix would otherwise be taken for a package PATH.
_index_routes("/testing", Channel.TESTING)
_index_routes("", Channel.STABLE)


def _index_response(request: Request, index: BuiltIndex, body: Callable[[], bytes],
                    media_type: str, *, etag_suffix: str, started: float,
                    counted: tuple[Farm, str]) -> Response:
    """The index, or 304; Server-Timing says how long the server took to have it."""
    farm, profile = counted
    etag = f'"{index.digest[:40]}{etag_suffix}"'
    headers = {"ETag": etag, "Last-Modified": formatdate(index.timestamp, usegmt=True),
               "Cache-Control": "no-cache"}
    fresh = _is_fresh(request, etag, index.timestamp)
    content = b"" if fresh else body()
    headers["Server-Timing"] = f"index;dur={(time.perf_counter() - started) * 1000:.2f}"
    farm.metrics.binhost_requests.labels(profile, "index").inc()
    if fresh:
        return Response(status_code=304, headers=headers)
    farm.metrics.binhost_bytes.labels(profile).inc(len(content))
    return Response(content, media_type=media_type, headers=headers)


def _is_fresh(request: Request, etag: str, timestamp: int) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = int(parsedate_to_datetime(if_modified_since).timestamp())
    except (TypeError, ValueError):
        return False
    return since == timestamp + PORTAGE_IMS_TOLERANCE_S
