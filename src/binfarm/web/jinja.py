"""The dashboard's Jinja2 templates (templates/), shared by the login form and the pages."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

__all__ = ["TEMPLATES"]

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
