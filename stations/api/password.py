"""POST /api/stations/<identity>/password: set a station's Basic-auth password (OCPP A01)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stations import credentials, passwords, services
from stations.models import ChargingStation


class CanChangeStation(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("stations.change_chargingstation")


class PasswordRequestSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, trim_whitespace=False)
    setOnCharger = serializers.BooleanField(default=False)


class StationPasswordView(APIView):
    """Operator-given (16-64 passwordString characters) or generated (40) password.

    `setOnCharger: false`: the password is already on the station, it is only stored.
    `true`: it is sent to the station first and stored once the station accepts it. The
    answer holds the password only when it was generated.
    """

    permission_classes = [IsAuthenticated, CanChangeStation]

    @extend_schema(
        request=PasswordRequestSerializer,
        responses={
            200: inline_serializer(
                "StationPasswordResponse", {"password": serializers.CharField(required=False)}
            )
        },
    )
    def post(self, request: Request, identity: str) -> Response:
        body = PasswordRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        given = body.validated_data.get("password")
        try:
            password = credentials.station_password_set(
                identity=identity,
                password=given,
                set_on_charger=body.validated_data["setOnCharger"],
            )
        except ChargingStation.DoesNotExist:
            return Response({"detail": "Unknown station."}, status=status.HTTP_404_NOT_FOUND)
        except passwords.PasswordRejected as exc:
            return Response({"password": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        except services.StationNotConnected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except credentials.PasswordNotSet as exc:
            return Response(
                {"detail": f"Password not stored: {exc}"}, status=status.HTTP_502_BAD_GATEWAY
            )
        return Response({} if given is not None else {"password": password})
