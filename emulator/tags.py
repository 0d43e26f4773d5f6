"""The emulated stations' id tags in this CSMS's database (`emulate --create-tags`)."""

from django.db import transaction

from transactions.choices import AuthorizationStatus, IdTokenType
from transactions.models import IdToken


def id_tags_create(*, tags: list[str]) -> int:
    """Make every tag a known, Accepted ISO14443 token; the number created."""
    created = 0
    with transaction.atomic():
        known = set(IdToken.objects.filter(value__in=tags).values_list("value", flat=True))
        for tag in tags:
            # A tag already known keeps the status an operator gave it.
            if tag not in known:
                IdToken.objects.create(
                    value=tag, type=IdTokenType.ISO14443, status=AuthorizationStatus.ACCEPTED
                )
                created += 1
    return created
