from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from csms.api.pagination import NewestFirstCursorPagination
from stations.services import StationNotConnected
from transactions import ending, reservations, selectors
from transactions.api.filters import (
    BatterySwapFilter,
    IdTokenFilter,
    LocalAuthListEntryFilter,
    LocalAuthListFilter,
    MeterValueFilter,
    RemoteStartFilter,
    ReservationFilter,
    SettlementFilter,
    StationTariffFilter,
    TariffFilter,
    TransactionFilter,
    VatNumberCheckFilter,
    WebPaymentFilter,
)
from transactions.api.serializers import (
    BatterySwapSerializer,
    IdTokenSerializer,
    LocalAuthListEntrySerializer,
    LocalAuthListSerializer,
    MeterValueSerializer,
    RemoteStartSerializer,
    ReservationSerializer,
    SettlementSerializer,
    StationTariffSerializer,
    TariffSerializer,
    TransactionDetailSerializer,
    TransactionEndSerializer,
    TransactionSerializer,
    VatNumberCheckSerializer,
    WebPaymentSerializer,
)
from transactions.models import (
    BatterySwap,
    LocalAuthList,
    LocalAuthListEntry,
    RemoteStart,
    Settlement,
    StationTariff,
    Tariff,
    VatNumberCheck,
    WebPayment,
)


class IdTokenViewSet(viewsets.ModelViewSet):
    queryset = selectors.id_token_list()
    serializer_class = IdTokenSerializer
    filterset_class = IdTokenFilter
    ordering_fields = ["value", "created"]


class CanChangeTransactions(BasePermission):
    """Ending a transaction changes it: `transactions.change_transaction` (Operators)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("transactions.change_transaction"))


class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    """Transactions; the detail carries the messages received and every meter value."""

    queryset = selectors.transaction_list()
    filterset_class = TransactionFilter
    ordering_fields = ["started_at", "stopped_at", "energy_wh"]

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.transaction_detail()
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action == "end":
            return TransactionEndSerializer
        return TransactionDetailSerializer if self.action == "retrieve" else TransactionSerializer

    def get_permissions(self):
        if self.action == "end":
            return [CanChangeTransactions()]
        return super().get_permissions()

    @extend_schema(request=TransactionEndSerializer, responses=TransactionSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End a transaction the station will not end: the record is closed with the
        operator's name and note (`ended_by`, `end_note`, anomaly `ended_by_operator`);
        with `stop_at_station` the station is asked to stop it first. An ended transaction
        is answered 409."""
        tx = self.get_object()
        body = TransactionEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not tx.is_active:
            return Response(
                {"detail": f"Transaction {tx.transaction_id} has ended already."},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            result = ending.operator_end(
                transaction_pk=tx.pk,
                user=request.user.get_username(),
                note=body.validated_data.get("note", ""),
                stop_at_station=body.validated_data["stop_at_station"],
            )
        except StationNotConnected as exc:
            return Response(
                {"detail": f"{exc} End it without stop_at_station to close the record only."},
                status=status.HTTP_409_CONFLICT,
            )
        tx.refresh_from_db()
        data = TransactionSerializer(tx, context=self.get_serializer_context()).data
        return Response({**data, "station_answer": result.station_answer})


class MeterValueCursorPagination(NewestFirstCursorPagination):
    page_size = 500
    max_page_size = 5000


class MeterValueViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.meter_value_list()
    serializer_class = MeterValueSerializer
    filterset_class = MeterValueFilter
    pagination_class = MeterValueCursorPagination
    # The cursor fixes the order; no OrderingFilter.
    filter_backends = [DjangoFilterBackend]


class ReservationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Reservations; creating one sends ReserveNow to the station and answers what it said."""

    queryset = selectors.reservation_list()
    serializer_class = ReservationSerializer
    filterset_class = ReservationFilter

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            _, reservation = reservations.reservation_reserve(
                identity=data["station"].identity,
                id_token_value=data["id_token_value"],
                id_token_type=data.get("id_token_type") or "ISO14443",
                expiry=data["expiry"],
                evse_id=data.get("evse_id"),
                connector_type=data.get("connector_type", ""),
                group_id_token_value=data.get("group_id_token_value", ""),
            )
        except StationNotConnected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(reservation).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reservation = self.get_object()
        try:
            outcome = reservations.reservation_cancel(reservation_pk=reservation.pk)
        except StationNotConnected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        reservation.refresh_from_db()
        return Response(
            {
                "outcome": outcome.status,
                "response": outcome.response,
                "reservation": self.get_serializer(reservation).data,
            }
        )


class TariffViewSet(viewsets.ModelViewSet):
    queryset = Tariff.objects.select_related("station")
    serializer_class = TariffSerializer
    filterset_class = TariffFilter


class RemoteStartViewSet(viewsets.ReadOnlyModelViewSet):
    """Remote starts the CSMS asked for, and what became of them."""

    queryset = RemoteStart.objects.select_related("station")
    serializer_class = RemoteStartSerializer
    filterset_class = RemoteStartFilter
    ordering_fields = ["created"]
    ordering = ["-created", "-id"]


class LocalAuthListViewSet(viewsets.ReadOnlyModelViewSet):
    """Each station's local authorization list version, as sent and as reported."""

    queryset = LocalAuthList.objects.select_related("station")
    serializer_class = LocalAuthListSerializer
    filterset_class = LocalAuthListFilter
    ordering_fields = ["updated", "version"]
    ordering = ["station__identity"]


class LocalAuthListEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The entries each station holds in its local authorization list (as last sent)."""

    queryset = LocalAuthListEntry.objects.select_related("station")
    serializer_class = LocalAuthListEntrySerializer
    filterset_class = LocalAuthListEntryFilter
    ordering_fields = ["id_token_value"]
    ordering = ["station__identity", "id_token_value"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class BatterySwapViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = BatterySwap.objects.select_related("station")
    serializer_class = BatterySwapSerializer
    filterset_class = BatterySwapFilter


class SettlementViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Settlement.objects.select_related("station")
    serializer_class = SettlementSerializer
    filterset_class = SettlementFilter


class VatNumberCheckViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = VatNumberCheck.objects.select_related("station")
    serializer_class = VatNumberCheckSerializer
    filterset_class = VatNumberCheckFilter


class WebPaymentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = WebPayment.objects.select_related("station")
    serializer_class = WebPaymentSerializer
    filterset_class = WebPaymentFilter


class StationTariffViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = StationTariff.objects.select_related("station")
    serializer_class = StationTariffSerializer
    filterset_class = StationTariffFilter
