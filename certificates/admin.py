from django.contrib import admin

from certificates.models import CertificateSigningRequest, InstalledCertificate


@admin.register(CertificateSigningRequest)
class CertificateSigningRequestAdmin(admin.ModelAdmin):
    list_display = [
        "station",
        "certificate_type",
        "status",
        "serial_number",
        "not_after",
        "received",
    ]
    list_filter = ["status", "certificate_type"]
    search_fields = ["station__identity", "serial_number"]
    list_select_related = ["station"]
    readonly_fields = [
        "station",
        "certificate_type",
        "csr",
        "status",
        "reason",
        "certificate",
        "serial_number",
        "not_after",
        "received",
        "updated",
    ]


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "certificate_type", "serial_number", "hash_algorithm", "updated"]
    list_filter = ["certificate_type"]
    search_fields = ["station__identity", "serial_number"]
    list_select_related = ["station"]
