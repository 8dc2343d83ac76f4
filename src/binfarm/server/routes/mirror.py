"""A distfiles mirror for the farm's workers, laid out as Portage's GENTOO_MIRRORS expect.

Workers list `<server>/mirror` first in GENTOO_MIRRORS, so Portage fetches
`<server>/mirror/distfiles/<file>`: from the farm's DISTDIR, or from a repository's
bundled distfiles (the example's). What the farm lacks, Portage fetches from SRC_URI.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from binfarm.server.deps import FarmDep

__all__ = ["router"]

router = APIRouter(prefix="/mirror/distfiles", tags=["mirror"])

_LAYOUT = "[structure]\n0=flat\n"


@router.get("/layout.conf", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def get_mirror_layout() -> Response:
    """GLEP 75 layout: files sit directly under distfiles/."""
    return Response(_LAYOUT, media_type="text/plain")


@router.get("/{name}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
@router.head("/{name}", include_in_schema=False)
def get_distfile(name: str, farm: FarmDep) -> FileResponse:
    return FileResponse(farm.mirror_file(name), media_type="application/octet-stream")
