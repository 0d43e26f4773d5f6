from certificates.api.views import CertificateSigningRequestViewSet, InstalledCertificateViewSet
from csms.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("certificate-requests", CertificateSigningRequestViewSet)
router.register("installed-certificates", InstalledCertificateViewSet)

urlpatterns = router.urls
