from django import forms
from django.contrib import admin
from django.db import models

from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook


def https_formfield(db_field: models.Field, **kwargs):
    """Form fields of the forms below: an endpoint typed without a scheme is taken as https."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def secret_input(help_text: str) -> forms.CharField:
    """A secret's input: never rendered with its value, optional (empty keeps it)."""
    return forms.CharField(
        required=False,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class SecretsForm(forms.ModelForm):
    """The stored secrets (`SECRETS`) are never rendered: each is a password input that keeps
    the stored value when left empty, with a `forget_<name>` box to remove it."""

    SECRETS: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.SECRETS:
            if name in self.fields:
                stored = bool(self.instance.pk and getattr(self.instance, name))
                state = "One is set: leave empty to keep it." if stored else "None is set."
                self.fields[name].help_text = f"{self.fields[name].help_text} {state}".strip()

    def clean(self):
        cleaned = super().clean()
        for name in self.SECRETS:
            if name not in self.fields:
                continue
            if cleaned.get(f"forget_{name}"):
                cleaned[name] = ""
            elif not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
            if not cleaned.get(name) and not self._meta.model._meta.get_field(name).blank:
                self.add_error(name, "This field is required.")
        return cleaned


class SecretsAdmin(admin.ModelAdmin):
    """A user who may only view sees whether each secret is set, never its value."""

    secrets: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if not f.startswith("forget_")]
        viewing = obj is not None and not self.has_change_permission(request, obj)
        shown = []
        for name in fields:
            if name not in self.secrets:
                shown.append(name)
            elif viewing:
                shown.append(f"{name}_is_set")
            else:
                shown.append(name)
                forget = f"forget_{name}"
                if obj is not None and getattr(obj, name) and forget in self.form.base_fields:
                    shown.append(forget)
        return shown


def _is_set(name: str):
    @admin.display(description=f"{name} set", boolean=True)
    def is_set(self, obj) -> bool:
        return bool(getattr(obj, name))

    return is_set


class IntegratorWebhookForm(SecretsForm):
    SECRETS = ("password", "token")
    password = secret_input("For Basic auth.")
    token = secret_input("For Bearer auth.")
    forget_password = forms.BooleanField(required=False, label="Forget the stored password")
    forget_token = forms.BooleanField(required=False, label="Forget the stored token")

    class Meta:
        model = IntegratorWebhook
        formfield_callback = https_formfield
        fields = "__all__"  # noqa: DJ007 (the admin shows every field; secrets as inputs)


@admin.register(IntegratorWebhook)
class IntegratorWebhookAdmin(SecretsAdmin):
    form = IntegratorWebhookForm
    secrets = IntegratorWebhookForm.SECRETS
    # An endpoint typed without a scheme is taken as https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "enabled", "url", "actions", "auth_type", "on_failure", "priority"]
    list_filter = ["enabled", "auth_type", "on_failure"]
    search_fields = ["name", "url"]
    password_is_set = _is_set("password")
    token_is_set = _is_set("token")


class EventSubscriptionForm(SecretsForm):
    SECRETS = ("secret",)
    secret = secret_input("Key of the HMAC-SHA256 signature in X-CSMS-Signature.")

    class Meta:
        model = EventSubscription
        formfield_callback = https_formfield
        fields = "__all__"  # noqa: DJ007 (the admin shows every field; secrets as inputs)


@admin.register(EventSubscription)
class EventSubscriptionAdmin(SecretsAdmin):
    form = EventSubscriptionForm
    secrets = EventSubscriptionForm.SECRETS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "enabled", "url", "events", "max_attempts"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    secret_is_set = _is_set("secret")


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created",
        "subscription",
        "event",
        "station",
        "status",
        "attempts",
        "status_code",
        "error",
    ]
    list_filter = ["status", "event", "subscription"]
    search_fields = ["station", "id"]
    readonly_fields = [
        "id",
        "subscription",
        "event",
        "station",
        "payload",
        "status",
        "attempts",
        "status_code",
        "error",
        "history",
        "created",
        "delivered_at",
        "next_attempt_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
