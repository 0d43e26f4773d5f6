from rest_framework.routers import DefaultRouter

from certificates.api.views import CertificateSigningRequestViewSet, InstalledCertificateViewSet

router = DefaultRouter()
router.register("certificate-requests", CertificateSigningRequestViewSet)
router.register("installed-certificates", InstalledCertificateViewSet)

urlpatterns = router.urls
