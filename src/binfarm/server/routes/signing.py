"""The farm's signing keys: public keys for anyone, rotation and retirement for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import KeyRetiredOut, SigningKeyOut
from binfarm.server.deps import AdminToken, FarmDep
from binfarm.server.routes.convert import raw_body, read_limited, signing_key_out

__all__ = ["router"]

router = APIRouter(tags=["signing"])


@router.get("/key", response_class=Response,
            responses={200: {"content": {"application/pgp-keys": {}}}})
def get_public_keys(farm: FarmDep) -> Response:
    """The armored public keys that sign this farm's packages (no token needed): what a
    machine imports into /etc/portage/gnupg to verify them."""
    return Response(farm.signing_keys.public_keys(), media_type="application/pgp-keys")


@router.get("/keys")
def list_signing_keys(farm: FarmDep) -> list[SigningKeyOut]:
    """Every key the farm has had, with its state (no token needed: nothing secret)."""
    return [signing_key_out(k) for k in farm.signing_keys.list()]


@router.post("/keys/rotate")
def rotate_signing_key(farm: FarmDep, _token: AdminToken) -> SigningKeyOut:
    """Make a new signing key; the previous one stays trusted until it is retired."""
    return signing_key_out(farm.signing_keys.rotate())


@router.post("/keys/import", openapi_extra=raw_body("application/octet-stream"))
async def import_signing_key(request: Request, farm: FarmDep,
                             _token: AdminToken) -> SigningKeyOut:
    """Make an armored secret key the signing key (the previous one stays trusted)."""
    armored = await read_limited(request, farm.settings.server.max_json_bytes)
    return signing_key_out(await run_in_threadpool(farm.signing_keys.import_secret, armored))


@router.post("/keys/{fingerprint}/retire")
def retire_signing_key(fingerprint: str, farm: FarmDep, _token: AdminToken) -> KeyRetiredOut:
    """Sign again every package the key signed, with the signing key, then retire it."""
    key, report = farm.resigning.retire(fingerprint)
    return KeyRetiredOut(key=signing_key_out(key), resigned=report.resigned,
                         failed=[f"{path}: {reason}" for path, reason in report.failed])
