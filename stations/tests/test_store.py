"""The station message path's statements (stations.store) bypass `Model.save()`: a model
they write that gains a `save()` override or a signal receiver fails here."""

from __future__ import annotations

import pytest
from django.db import models
from django.db.models import signals

from stations.models import ChargingStation, Connector, Evse

MESSAGE_PATH_MODELS = [ChargingStation, Connector, Evse]


@pytest.mark.parametrize("model", MESSAGE_PATH_MODELS, ids=lambda m: m.__name__)
def test_station_message_path_models_have_no_save_override(model):
    assert model.save is models.Model.save, f"{model.__name__}.save() is overridden"
    assert model.save_base is models.Model.save_base


@pytest.mark.parametrize("model", MESSAGE_PATH_MODELS, ids=lambda m: m.__name__)
def test_station_message_path_models_have_no_signal_receivers(model):
    for signal in (signals.pre_save, signals.post_save, signals.pre_init, signals.post_init):
        assert not signal.has_listeners(model), f"{signal} receiver for {model.__name__}"
