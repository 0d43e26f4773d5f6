from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from firmware import selectors, services
from firmware.api import filters
from firmware.api.serializers import (
    FirmwareFileSerializer,
    FirmwareLinkSerializer,
    FirmwarePublicationSerializer,
    FirmwareUpdateSerializer,
    LogRequestSerializer,
)


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
        responses=inline_serializer("FirmwareLink", {"url": serializers.URLField()}),
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, pk: str | None = None) -> Response:
        """A time-limited URL stations can fetch the image from (for UpdateFirmware)."""
        params = FirmwareLinkSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        url = services.firmware_download_link(
            firmware=self.get_object(),
            valid_until=params.validated_data.get("valid_until"),
            base_url=request.build_absolute_uri("/"),
        )
        return Response({"url": url})


class FirmwareUpdateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.firmware_update_list()
    serializer_class = FirmwareUpdateSerializer
    filterset_class = filters.FirmwareUpdateFilter


class FirmwarePublicationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.firmware_publication_list()
    serializer_class = FirmwarePublicationSerializer
    filterset_class = filters.FirmwarePublicationFilter


class LogRequestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.log_request_list()
    serializer_class = LogRequestSerializer
    filterset_class = filters.LogRequestFilter
