from django.db import models


class ScheduledJob(models.Model):
    """One periodic job of the fleet (server_runtime.scheduler): when it last ran, so that
    several processes run it once per interval and a restart does not run it early."""

    name = models.CharField(max_length=150, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.TextField(blank=True, help_text="What the last run returned or raised.")
    last_ok = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
