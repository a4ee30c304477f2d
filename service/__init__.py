"""Ceasefire Ledger: alleged ceasefire violations, the claims about them, and their provenance.

The package itself loads nothing: `service.core` (the rules) is imported without the web
framework, and the app is made by create_app (service.app) when it is asked for.
"""

from __future__ import annotations

API_VERSION = "1.0.0"


def create_app(test_config: dict | None = None):
    """The Flask app (see service.app.create_app); `flask --app service` finds it here."""
    from .app import create_app as make

    return make(test_config)
