"""Request bodies of the switchboard operations (spec: switchboardUpdateBody, switchboardIntegrationCreateBody,
switchboardIntegrationUpdateBody, passControlBody, offerControlBody, acceptControlBody, releaseControlBody),
checked as bodies.py checks the others."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from .bodies import _Body, _check_metadata

# [C] alphanumeric characters, `-` and `_`, at most 128
SwitchboardName = Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Reference = Annotated[StrictStr, Field(min_length=1)]
HistoryCount = Annotated[StrictInt, Field(ge=1, le=10)]  # [C] messageHistoryCount


class SwitchboardUpdateBody(_Body):
    """[C] neither field is nullable: an explicit null is refused, an omitted one left as it is."""

    enabled: StrictBool = None  # type: ignore[assignment]
    defaultSwitchboardIntegrationId: Reference = None  # type: ignore[assignment]


class SwitchboardIntegrationUpdateBody(_Body):
    """[C] only `nextSwitchboardIntegrationId` and `messageHistoryCount` are nullable."""

    name: SwitchboardName = None  # type: ignore[assignment]
    integrationId: Reference = None  # type: ignore[assignment]
    integrationType: Reference = None  # type: ignore[assignment]
    deliverStandbyEvents: StrictBool = None  # type: ignore[assignment]
    nextSwitchboardIntegrationId: Reference | None = None
    messageHistoryCount: HistoryCount | None = None

    @model_validator(mode="after")
    def _one_link(self) -> SwitchboardIntegrationUpdateBody:
        if self.integrationId is not None and self.integrationType is not None:
            raise ValueError("Can't provide both integrationId and integrationType")  # [C] the rule, [I] the words
        return self


class SwitchboardIntegrationCreateBody(SwitchboardIntegrationUpdateBody):
    name: SwitchboardName

    @model_validator(mode="after")
    def _linked(self) -> SwitchboardIntegrationCreateBody:
        if self.integrationId is None and self.integrationType is None:
            raise ValueError("One of integrationId or integrationType must be provided")  # [C] the rule, [I] the words
        return self


class _ControlBody(_Body):
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: _check_metadata(value, "Switchboard"))


class AcceptControlBody(_ControlBody):
    """Also the body of releaseControl (metadata only)."""


class TargetControlBody(_ControlBody):
    """passControl and offerControl: the switchboard integration by id, name, integrationType or `next`."""

    switchboardIntegration: Reference
