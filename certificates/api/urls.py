from certificates.api.views import CertificateSigningRequestViewSet, InstalledCertificateViewSet
from csms.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("certificate-requests", CertificateSigningRequestViewSet, "certificate-request")
router.register("installed-certificates", InstalledCertificateViewSet, "installed-certificate")

urlpatterns = router.urls
