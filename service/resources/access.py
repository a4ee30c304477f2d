"""Who calls: the role a route needs (and the Idempotency-Key looked at after it), and the
request's caller and session."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from .. import auth, idempotency
from ..core.actors import Principal
from .spec import add_doc


def requires(role: str):
    """Needs at least `role`; also documents 401/403 for the operation.

    A POST's Idempotency-Key is looked at here, after the role check and before anything
    else: a stored answer is replayed only to the API key that got it, and only while that
    key's role still allows the request."""

    def decorator(func):
        @wraps(func)
        def replayable(*args, **kwargs):
            if request.method == "POST":
                answered = idempotency.begin(g.db, g.principal)
                if answered is not None:
                    return answered
            return func(*args, **kwargs)

        guarded = auth.require(role)(replayable)

        @wraps(func)
        def wrapper(*args, **kwargs):
            return guarded(*args, **kwargs)

        return add_doc(func, wrapper, role=role)

    return decorator


def principal() -> Principal:
    return g.principal


def session():
    return g.db
