"""A distfiles mirror for the farm's workers, laid out as Portage's GENTOO_MIRRORS expect.

Workers list `<server>/mirror` first in GENTOO_MIRRORS, so Portage fetches
`<server>/mirror/distfiles/<file>`: from the farm's DISTDIR, or from a repository's
bundled distfiles (the example's). What the farm lacks, Portage fetches from SRC_URI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from binfarm.server.deps import FarmDep, MirrorReader

__all__ = ["router"]

router = APIRouter(prefix="/mirror/distfiles", tags=["mirror"], dependencies=[MirrorReader])

_LAYOUT = "[structure]\n0=flat\n"
_CHUNK = 1 << 20


@router.get("/layout.conf", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def get_mirror_layout() -> Response:
    """GLEP 75 layout: files sit directly under distfiles/."""
    return Response(_LAYOUT, media_type="text/plain")


@router.get("/{name}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
@router.head("/{name}", include_in_schema=False)
def get_distfile(name: str, request: Request, farm: FarmDep) -> Response:
    """The file as opened without following a symlink: streamed from that descriptor, so
    nothing can be swapped in between the check and the read."""
    handle = os.fdopen(farm.mirror_file(name), "rb")
    headers = {"Content-Length": str(os.fstat(handle.fileno()).st_size)}
    if request.method == "HEAD":
        handle.close()
        return Response(headers=headers, media_type="application/octet-stream")
    return StreamingResponse(_chunks(handle), headers=headers,
                             media_type="application/octet-stream")


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk
