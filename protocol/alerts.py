"""Lost and stolen document alerts (SLTD-like): the payload, number normalisation, and the rule
that only the issuing country may alert on its documents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from protocol.errors import PolicyError
from protocol.schema import DATE, Enum, Obj, Str

if TYPE_CHECKING:  # protocol.envelope imports the message registry, which imports this module
    from protocol.envelope import Envelope

DOCUMENT_TYPES = ("passport", "identity_card", "visa", "residence_permit", "travel_document",
                  "seafarer_identity_document", "other")
STATUSES = ("stolen", "lost", "revoked", "invalid", "stolen_blank")
ACTIONS = ("create", "update", "withdraw")
DEFAULT_REVIEW_YEARS = 10

ALERT = Obj(
    required={
        "document_number": Str(min_len=1, max_len=64),  # as written on the document or reported
        "document_type": Enum(*DOCUMENT_TYPES),
        "issuing_country": Str(min_len=3, max_len=3, pattern=r"[A-Z]{3}"),
        "status": Enum(*STATUSES),
        "action": Enum(*ACTIONS),
        "reported": DATE,
    },
    optional={
        "event_date": DATE, "issue_date": DATE, "expiry_date": DATE, "review_date": DATE,
        "national_reference": Str(max_len=128),
    },
)

_SEPARATORS = re.compile(r"[\s\-./_<]+")


def normalise_document_number(number: str) -> str:
    """Upper case, no spaces or separators: 'ya 123-456.7' and 'YA1234567' are one document."""
    folded = unicodedata.normalize("NFKC", number).upper()
    return _SEPARATORS.sub("", folded)


def only_the_issuing_country_alerts(env: Envelope, body: Mapping[str, Any]) -> None:
    if body["issuing_country"] != env.sender:
        raise PolicyError("not_issuing_country",
                          f"{env.sender} may not alert on a document issued by {body['issuing_country']}")
