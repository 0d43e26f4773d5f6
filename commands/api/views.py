"""Commands API: the records (read), and the message API that sends OCPP calls.

The sending views are coroutines (`AsyncAPIView`): waiting for a station's answer holds no
thread. Each is one call to a service that checks and stores the command, then one to send
it (awaited, or run in the background for ?wait=false / callback_url).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from commands import services
from commands.api import serializers
from commands.api.filters import CommandFilter
from commands.api.permissions import CanSendCommands
from commands.models import Command
from csms.api.views import AsyncAPIView
from stations.api.filters import StationFilter
from stations.models import ChargingStation


class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Commands sent to stations, newest first; the detail shows callback deliveries."""

    queryset = Command.objects.select_related("station", "created_by").prefetch_related(
        "deliveries"
    )
    filterset_class = CommandFilter
    ordering_fields = ["created", "completed", "action", "status"]
    ordering = ["-created", "-id"]

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.CommandDetailSerializer
        return serializers.CommandSerializer


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Invalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


def _refusal(exc: services.CommandRefused) -> exceptions.APIException:
    detail = {"detail": exc.message, **({"code": exc.code} if exc.code else {}), **exc.details}
    if isinstance(exc, services.StationUnknown):
        return exceptions.NotFound(exc.message)
    if isinstance(exc, services.CommandConflict):
        return Conflict(detail)
    return Invalid(detail)


CALL_PARAMETERS = [
    OpenApiParameter("wait", bool, description="false: answer 202 at once (default true)."),
    OpenApiParameter(
        "callback_url", str, description="POST the record here when done (implies wait=false)."
    ),
    OpenApiParameter("timeout", float, description="Seconds to wait for the station's answer."),
]
CALL_RESPONSES = {
    200: OpenApiResponse(serializers.CommandSerializer, "The station answered, or timed out."),
    202: OpenApiResponse(serializers.CommandSerializer, "Accepted; poll or await the callback."),
    400: OpenApiResponse(description="The payload does not fit the schema (path named)."),
    404: OpenApiResponse(description="Unknown station."),
    409: OpenApiResponse(description="Offline station, or its version lacks the action."),
}


class _SendView(AsyncAPIView):
    permission_classes = [CanSendCommands]

    def call_options(self, request) -> dict[str, Any]:
        options = serializers.CallOptionsSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        return options.validated_data

    async def run(self, request, command: Command, options: dict[str, Any]) -> Response:
        if not options["wait"]:
            services.spawn(services.command_execute(command, timeout=options["timeout"]))
            location = reverse("command-detail", kwargs={"pk": command.pk})
            return Response(
                services.command_record(command),
                status=status.HTTP_202_ACCEPTED,
                headers={"Location": location},
            )
        command = await services.command_execute(command, timeout=options["timeout"])
        code = (command.error or {}).get("code")
        return Response(
            services.command_record(command),
            status={
                services.OFFLINE: status.HTTP_409_CONFLICT,
                services.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
            }.get(code, status.HTTP_200_OK),
        )


@extend_schema(exclude=True)  # documented per action by commands.openapi
class CommandSendView(_SendView):
    """POST /api/stations/{station_id}/commands/{Action}: the body is the OCPP payload."""

    async def post(self, request, station_id: str, action: str) -> Response:
        options = self.call_options(request)
        try:
            command = await services.db(services.command_create)(
                identity=station_id,
                action=action,
                payload=request.data,
                user=request.user,
                callback_url=options["callback_url"],
            )
        except services.CommandRefused as exc:
            raise _refusal(exc) from None
        return await self.run(request, command, options)


class OperationView(_SendView):
    """A version-agnostic operation, sent as the matching action of the station's version."""

    operation = ""

    def get_serializer_class(self):
        return serializers.OPERATION_SERIALIZERS[self.operation]

    async def post(self, request, station_id: str) -> Response:
        options = self.call_options(request)
        params = self.get_serializer_class()(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            command = await services.db(services.command_create_operation)(
                identity=station_id,
                operation=self.operation,
                params=params.validated_data,
                user=request.user,
                callback_url=options["callback_url"],
            )
        except services.CommandRefused as exc:
            raise _refusal(exc) from None
        return await self.run(request, command, options)


OPERATION_DOCS = {
    "start-session": "Start a charging session: 1.6 RemoteStartTransaction, "
    "2.x RequestStartTransaction.",
    "stop-session": "Stop a charging session: 1.6 RemoteStopTransaction, "
    "2.x RequestStopTransaction.",
    "reset": "Reset the station (or, 2.x, an EVSE): Reset.",
    "unlock": "Unlock a connector: UnlockConnector.",
    "change-availability": "Make the station, an EVSE or a connector (in)operative: "
    "ChangeAvailability.",
    "trigger-message": "Ask the station to send a message: TriggerMessage.",
}


def operation_view(operation: str):
    """The view class of one operation (its own class, so each is documented on its own)."""

    @extend_schema(
        summary=OPERATION_DOCS[operation],
        request=serializers.OPERATION_SERIALIZERS[operation],
        parameters=CALL_PARAMETERS,
        responses=CALL_RESPONSES,
        tags=["message API"],
        operation_id=f"station_{operation.replace('-', '_')}",
    )
    async def post(self, request, station_id: str) -> Response:
        return await OperationView.post(self, request, station_id)

    name = "".join(part.title() for part in operation.split("-")) + "View"
    return type(
        name,
        (OperationView,),
        {"operation": operation, "__doc__": OPERATION_DOCS[operation], "post": post},
    )


def _select_stations(data: dict[str, Any]) -> list[ChargingStation]:
    if "station_ids" in data:
        identities = list(dict.fromkeys(data["station_ids"]))
        stations = {s.identity: s for s in ChargingStation.objects.filter(identity__in=identities)}
        unknown = [identity for identity in identities if identity not in stations]
        if unknown:
            raise exceptions.ValidationError({"station_ids": [f"Unknown stations: {unknown}"]})
        return [stations[identity] for identity in identities]
    selection = StationFilter(data=data["filter"], queryset=ChargingStation.objects.all())
    if not selection.is_valid():
        raise exceptions.ValidationError({"filter": selection.errors})
    return list(selection.qs)


def _fan_out_create(data: dict[str, Any], user: Any, callback_url: str) -> list[Command]:
    stations = _select_stations(data)
    payloads = data["payloads"] if "payloads" in data else {"*": data["payload"]}
    return services.command_create_many(
        stations=stations,
        action=data["action"],
        payloads=payloads,
        user=user,
        callback_url=callback_url,
    )


class FanOutView(_SendView):
    """Send one OCPP action to many stations: one command record per station."""

    serializer_class = serializers.FanOutSerializer

    @extend_schema(
        request=serializers.FanOutSerializer,
        parameters=CALL_PARAMETERS,
        responses={
            200: serializers.CommandSerializer(many=True),
            202: serializers.CommandSerializer(many=True),
        },
        tags=["message API"],
    )
    async def post(self, request) -> Response:
        options = self.call_options(request)
        body = serializers.FanOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            commands = await services.db(_fan_out_create)(
                body.validated_data, request.user, options["callback_url"]
            )
        except services.CommandRefused as exc:
            raise _refusal(exc) from None
        if not options["wait"]:
            services.spawn(services.command_execute_many(commands, timeout=options["timeout"]))
            return Response(
                [services.command_record(c) for c in commands], status=status.HTTP_202_ACCEPTED
            )
        commands = await services.command_execute_many(commands, timeout=options["timeout"])
        return Response([services.command_record(c) for c in commands])
