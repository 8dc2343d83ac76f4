"""Property-based requests over the whole OpenAPI schema: no input makes the server fail.

Schemathesis generates requests for every operation from /openapi.json and sends them to
the real app over a real Farm (with the admin token, so that they get past auth).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from binfarm.farm import Farm
from binfarm.server.app import create_app
from binfarm.settings import QueueSettings, Settings


@pytest.fixture(scope="module")
def fuzzed_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Farm, str]]:
    # Short long-polls: a generated lease request must not wait 20 s for nothing.
    farm = Farm(Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "var",
                         queue=QueueSettings(long_poll_s=0.1)))
    token = farm.ensure_admin_token().read_text().strip()
    farm.register_example()
    yield farm, token
    farm.engine.dispose()


def test_no_request_makes_the_server_fail(fuzzed_farm: tuple[Farm, str]) -> None:
    for raw in ("application/gzip", "application/x-tar"):
        schemathesis.serializer.alias(raw, "application/octet-stream")
    farm, token = fuzzed_farm
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(farm))
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            if case.path == "/api/v1/tokens/{name_or_id}":
                case.path_parameters = {"name_or_id": "no-such-token"}  # keep our token
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")

        check()
    assert failures == []
    assert farm.tokens.verify(token).name == "admin"
