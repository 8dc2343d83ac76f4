"""Publishing: write every channel's current generation to the published tree now, and the
nginx configuration that serves that tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from binfarm.api.models import PublishedOut
from binfarm.publish.nginx import nginx_server_block
from binfarm.server.deps import AdminToken, FarmDep

__all__ = ["router"]

router = APIRouter(prefix="/publish", tags=["publish"])


@router.post("")
def publish(farm: FarmDep, _token: AdminToken) -> list[PublishedOut]:
    """Bring <data_dir>/published/ up to date (serve does it on every change anyway)."""
    return [PublishedOut(profile=p.profile, channel=p.channel.value,
                         generation=p.written.generation, timestamp=p.written.timestamp,
                         packages=p.written.packages, directory=str(p.written.directory),
                         created=p.written.created)
            for p in farm.publisher.publish_all()]


@router.get("/nginx", response_class=PlainTextResponse)
def nginx_config(farm: FarmDep, _token: AdminToken,
                 listen: Annotated[str, Query(max_length=256, pattern=r"^[\w.:\[\]-]+$")
                                   ] = "127.0.0.1:8080",
                 farm_url: Annotated[str | None, Query(
                     max_length=512, pattern=r"^https?://[\w.:\[\]-]+/?$",
                     description="Where nginx reaches the farm to check credentials "
                     "[default: the farm's --listen address].")] = None) -> str:
    """A `server` block for nginx that serves the published tree at the farm's binhost
    URLs, asking the farm to check credentials when it requires them."""
    if farm_url is None:
        scheme = "https" if farm.settings.server.tls_cert else "http"
        farm_url = f"{scheme}://{farm.settings.server.listen}"
    return nginx_server_block(farm.publisher.tree.root, listen, farm_url,
                              auth=farm.settings.server.binhost_auth == "required")
