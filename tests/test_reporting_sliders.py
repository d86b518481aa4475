"""The what-if sliders of notebooks/explore.ipynb: the static table, and the widget on a
stand-in ipywidgets module (the lab extra is not installed for the tests)."""

from __future__ import annotations

import importlib.util
import sys
import types

import pandas as pd
import pytest

from recruit_reveal import schema
from recruit_reveal.reporting import exploration, sliders

HAS_IPYWIDGETS = importlib.util.find_spec("ipywidgets") is not None


@pytest.fixture(scope="module")
def loaded(exported_models_dir):
    return exploration.load_release("wr", "latest", exported_models_dir)


def test_slider_table_starts_inside_every_range(loaded):
    athlete = {"forty_yard_dash": 4.5, "weight_lbs": 999.0}
    table = sliders.slider_table(loaded, athlete)
    assert list(table.index) == [c.name for c in schema.numeric_columns("wr")]
    assert (table["start"] >= table["low"]).all() and (table["start"] <= table["high"]).all()
    assert table.loc["forty_yard_dash", "start"] == 4.5
    assert table.loc["weight_lbs", "start"] == table.loc["weight_lbs", "high"]  # clipped
    typical = loaded.metadata.typical_values["vertical_jump"]
    assert pd.isna(table.loc["vertical_jump", "athlete"])
    assert table.loc["vertical_jump", "start"] == pytest.approx(typical)


def test_headless_gives_the_table(loaded, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert sliders.frontend_attached() is False
    athlete = exploration.sample_athlete("wr")
    for widgets in (None, False):
        shown = sliders.what_if_sliders(loaded, athlete, widgets)
        assert isinstance(shown, pd.DataFrame)
        assert list(shown.columns) == ["athlete", "typical", "unit", "low", "high", "start"]


@pytest.mark.skipif(HAS_IPYWIDGETS, reason="ipywidgets is installed")
def test_forcing_sliders_without_ipywidgets_names_the_extra(loaded):
    with pytest.raises(ImportError, match=r"recruit-reveal\[lab\]"):
        sliders.what_if_sliders(loaded, {}, widgets=True)


class _Widget:
    def __init__(self, children=(), **kwargs):
        self.children, self.observers = tuple(children), []
        self.__dict__.update(kwargs)

    def observe(self, handler, name):
        self.observers.append((handler, name))

    def clear_output(self, wait=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _stand_in_ipywidgets() -> types.ModuleType:
    module = types.ModuleType("ipywidgets")
    for name in ("Checkbox", "FloatSlider", "Dropdown", "Output", "Layout", "HTML", "HBox",
                 "VBox"):
        setattr(module, name, type(name, (_Widget,), {}))
    return module


def test_sliders_score_the_ticked_inputs(loaded, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", _stand_in_ipywidgets())
    athlete = exploration.sample_athlete("wr")
    box = sliders.what_if_sliders(loaded, athlete, widgets=True)
    rows = [child for child in box.children if type(child).__name__ == "HBox"]
    assert len(rows) == len(schema.numeric_columns("wr"))
    controls = {row.children[1].description: row.children for row in rows}
    tick, slider = controls["forty_yard_dash"]
    assert tick.value is True and slider.value == athlete["forty_yard_dash"]
    assert controls["vertical_jump"][0].value is False  # not given: unticked
    # The first prediction is the athlete's own; moving a slider re-scores.
    expected = exploration.score_athlete(loaded, athlete)
    assert expected["division"] in capsys.readouterr().out
    slider.value = 6.4
    handler, name = slider.observers[0]
    assert name == "value"
    handler()
    slow = exploration.score_athlete(loaded, {**athlete, "forty_yard_dash": 6.4})
    assert slow["P(Power 5)"] != expected["P(Power 5)"]
    assert f"{slow['P(Power 5)']}" in capsys.readouterr().out
