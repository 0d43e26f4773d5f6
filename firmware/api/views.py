from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from firmware import selectors, services
from firmware.api import filters
from firmware.api.serializers import (
    FirmwareFileSerializer,
    FirmwareLinkSerializer,
    FirmwarePublicationSerializer,
    FirmwareUpdateCreateSerializer,
    FirmwareUpdateSerializer,
    LogRequestCreateSerializer,
    LogRequestSerializer,
    OutcomeSerializer,
)
from ocpp_router.outbound import Outcome
from stations.services import StationNotConnected

OUTCOME_HTTP_STATUS = {"completed": status.HTTP_201_CREATED, "error": 502, "timeout": 504}


def _public_base(request: Request) -> str:
    return settings.CSMS_PUBLIC_URL or request.build_absolute_uri("/")


def _sent(record_data: dict, outcome: Outcome) -> Response:
    body = {**record_data, "outcome": OutcomeSerializer(outcome).data}
    return Response(body, status=OUTCOME_HTTP_STATUS.get(outcome.status, 502))


def _refused(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


class FirmwareFileViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Firmware images: upload one (multipart), list them, get a signed download link."""

    queryset = selectors.firmware_file_list()
    serializer_class = FirmwareFileSerializer
    filterset_fields = ["name", "version", "md5"]

    def perform_create(self, serializer: FirmwareFileSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.firmware_file_create(
            name=data["name"],
            version=data.get("version", ""),
            upload=data["file"],
            signing_certificate=data.get("signing_certificate", ""),
            signature=data.get("signature", ""),
        )

    def perform_destroy(self, instance) -> None:
        instance.file.delete(save=False)
        instance.delete()

    @extend_schema(
        request=FirmwareLinkSerializer,
        responses=inline_serializer("FirmwareDownloadLink", {"url": serializers.URLField()}),
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, pk: str | None = None) -> Response:
        """A time-limited URL stations can fetch the image from (for UpdateFirmware)."""
        params = FirmwareLinkSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        url = services.firmware_download_link(
            firmware=self.get_object(),
            valid_until=params.validated_data.get("valid_until"),
            base_url=_public_base(request),
        )
        return Response({"url": url})


class FirmwareUpdateViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Firmware updates sent to stations; POST sends one to a connected station."""

    queryset = selectors.firmware_update_list()
    serializer_class = FirmwareUpdateSerializer
    filterset_class = filters.FirmwareUpdateFilter

    def get_serializer_class(self):
        return (
            FirmwareUpdateCreateSerializer
            if self.action == "create"
            else super().get_serializer_class()
        )

    @extend_schema(responses=FirmwareUpdateSerializer)
    def create(self, request: Request, *args, **kwargs) -> Response:
        params = FirmwareUpdateCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        identity, firmware = data.pop("station"), data.pop("firmware")
        try:
            update, outcome = services.firmware_update_send(
                identity=identity, firmware_pk=firmware.pk, base_url=_public_base(request), **data
            )
        except StationNotConnected as exc:
            return _refused(exc)
        return _sent(FirmwareUpdateSerializer(update).data, outcome)


class FirmwarePublicationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.firmware_publication_list()
    serializer_class = FirmwarePublicationSerializer
    filterset_class = filters.FirmwarePublicationFilter


class LogRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Diagnostics and log requests; POST asks a connected station to upload one."""

    queryset = selectors.log_request_list()
    serializer_class = LogRequestSerializer
    filterset_class = filters.LogRequestFilter

    def get_serializer_class(self):
        return (
            LogRequestCreateSerializer
            if self.action == "create"
            else super().get_serializer_class()
        )

    @extend_schema(responses=LogRequestSerializer)
    def create(self, request: Request, *args, **kwargs) -> Response:
        params = LogRequestCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        identity = data.pop("station")
        try:
            log, outcome = services.log_request_send(
                identity=identity, base_url=_public_base(request), **data
            )
        except (StationNotConnected, ValueError) as exc:
            return _refused(exc)
        context = {"request": request}
        return _sent(LogRequestSerializer(log, context=context).data, outcome)
