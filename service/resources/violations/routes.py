"""Routes for /v1/violations."""

from datetime import datetime

import marshmallow as ma
from flask.views import MethodView
from werkzeug.routing import BaseConverter

from ...core import claims as claims_core
from ...core import disclosure, query
from ...core import violations as core
from ...db import autocommit_reads
from ...paging import decode_cursor
from ..access import principal, requires, session
from ..claims.present import claim_view
from ..claims.schemas import ClaimCreateSchema, ClaimListSchema, ClaimSchema
from ..pages import LINK_HEADER, PageArgs, next_page, refuse_unknown_filters
from ..spec import Blueprint, RawJSON, errors
from .present import list_items, violation_view
from .schemas import (
    HistorySchema,
    VerdictSchema,
    ViolationCreateSchema,
    ViolationPageSchema,
    ViolationPatchSchema,
    ViolationQueryArgs,
    ViolationSchema,
)

blp = Blueprint(
    "violations",
    __name__,
    url_prefix="/v1/violations",
    description="Alleged violations, their claims, status and verdicts.",
)


class ViolationListArgs(PageArgs, ViolationQueryArgs):
    pass


class ViolationIdConverter(BaseConverter):
    """A violation id: any path segment except the fixed names beside it (batch, export), so that
    /v1/violations/batch answers for POST alone (405 and `Allow: POST` otherwise) instead of
    also matching GET/PATCH /v1/violations/<id>."""

    regex = r"(?!(?:batch|export)(?![^/]))[^/]+"


def violation_id_schema(_converter) -> dict:
    return {"type": "string", "minLength": 1}


@blp.route("")
class Violations(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(ViolationListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, ViolationPageSchema, headers=LINK_HEADER)
    def get(self, args):
        """List violations by filters (lean items with claim_count), oldest recorded first"""
        cursor = decode_cursor(args.pop("cursor", None), "violations")
        after = (datetime.fromisoformat(cursor["t"]), cursor["id"]) if cursor else None
        limit = args.pop("limit")
        autocommit_reads(session())
        # PostgreSQL writes the items' JSON itself (or leaves to Python the rare row it cannot
        # write exactly); elsewhere they are built from the rows. Either way the bytes are
        # those of ViolationPageSchema's dump, encoded once.
        texts = query.list_page_json(session(), args, after, limit + 1)
        if texts is not None and all(t.item is not None for t in texts):
            rows, items = texts, RawJSON.join(t.item for t in texts[:limit])
        else:
            texts = None
            rows = core.list_(session(), filters=args, after=after, limit=limit + 1)
            items = list_items(rows[:limit])
        if not rows:
            # Nothing matched: say so only if every record the filters name exists.
            refuse_unknown_filters(session(), args)
        def position(last) -> dict:
            stamp = last.created if texts is not None else last.created_at.isoformat()
            return {"t": stamp, "id": last.id}

        nxt, headers = next_page("violations", rows, limit, position)
        return blp.json_response({"items": items, "next_cursor": nxt}, headers)

    @requires("reporter")
    @blp.etag
    @blp.arguments(ViolationCreateSchema)
    @blp.response(201, ViolationSchema)
    def post(self, data):
        """Record a violation, optionally with its claims and their sources, all or nothing"""
        made = core.create(session(), principal(), data)
        return violation_view(
            session(),
            made.violation,
            principal(),
            claims=made.claims,
            status_changes=made.status_changes,
        )


@blp.route("/<violation_id:violation_id>")
class ViolationById(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, ViolationSchema)
    @errors(404)
    def get(self, violation_id):
        """Get a violation with its claims, status history and contested facts"""
        return violation_view(session(), core.get(session(), violation_id), principal())

    @requires("reporter")
    @blp.etag
    @blp.arguments(ViolationPatchSchema)
    @blp.response(200, ViolationSchema)
    @errors(404)
    def patch(self, data, violation_id):
        """Change a violation your organisation reported (If-Match required)"""
        violation = core.get(session(), violation_id, lock=True)
        blp.check_etag(violation_view(session(), violation, principal()), ViolationSchema)
        violation = core.update(session(), principal(), violation, data)
        return violation_view(session(), violation, principal())


@blp.route("/<violation_id:violation_id>/claims")
class ViolationClaims(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, ClaimListSchema)
    @errors(404)
    def get(self, violation_id):
        """List the claims about a violation, withdrawn ones included"""
        core.get(session(), violation_id)
        rows = claims_core.for_violation(session(), violation_id)
        return {"items": [claim_view(c, principal()) for c in rows], "next_cursor": None}

    @requires("reporter")
    @blp.etag
    @blp.arguments(ClaimCreateSchema)
    @blp.response(201, ClaimSchema)
    @errors(404)
    def post(self, data, violation_id):
        """Add a claim or counterclaim (any reporter may)"""
        claim = core.add_claim(session(), principal(), violation_id, data)
        return claim_view(claim, principal())


@blp.route("/<violation_id:violation_id>/verdict")
class Verdict(MethodView):
    @requires("reporter")
    @blp.arguments(VerdictSchema)
    @blp.response(200, ViolationSchema)
    @errors(404)
    def post(self, data, violation_id):
        """Set a verdict: confirmed, refuted, reopened (verifiers) or retracted"""
        violation = core.verdict(
            session(), principal(), violation_id, data["verdict"], data["reason"]
        )
        return violation_view(session(), violation, principal())


@blp.route("/<violation_id:violation_id>/history")
class History(MethodView):
    @requires("reader")
    @blp.response(200, HistorySchema)
    @errors(404)
    def get(self, violation_id):
        """Every recorded change to the violation and its claims"""
        core.get(session(), violation_id)
        entries = core.history(session(), violation_id)
        # Sealed values shown only to those the disclosure policy allows.
        shown = disclosure.reveal(session(), principal(), (e.changes for e in entries))
        return {
            "items": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor_org,
                    "action": e.action,
                    "entity": e.entity,
                    "entity_id": e.entity_id,
                    "changes": changes,
                }
                for e, changes in zip(entries, shown, strict=True)
            ]
        }
