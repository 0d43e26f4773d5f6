from django.db import models


class CommandStatus(models.TextChoices):
    PENDING = "pending"
    COMPLETED = "completed"
    ERROR = "error"
    TIMEOUT = "timeout"
