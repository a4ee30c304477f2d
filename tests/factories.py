"""Payload factories: valid request bodies with unique ids, overridable per test."""

import factory

from tests.conftest import unique  # noqa: I001


class PartyPayload(factory.DictFactory):
    id = factory.LazyFunction(lambda: unique("party"))
    name = factory.Sequence(lambda n: f"Party {n}")
    kind = "armed_group"


class AgreementPayload(factory.DictFactory):
    id = factory.LazyFunction(lambda: unique("agreement"))
    title = factory.Sequence(lambda n: f"Ceasefire {n}")
    signed_on = "2018-09-17"
    provisions = factory.LazyFunction(
        lambda: [
            {"code": "dmz-15km", "text": "A demilitarised zone 15 km deep."},
            {"code": "heavy-weapons", "text": "Heavy weapons withdrawn from the zone."},
        ]
    )
    zone = factory.LazyFunction(
        lambda: {
            "type": "Polygon",
            "coordinates": [[[36.0, 35.0], [37.5, 35.0], [37.5, 36.5], [36.0, 36.5], [36.0, 35.0]]],
        }
    )
