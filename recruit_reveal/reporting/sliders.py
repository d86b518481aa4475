"""The what-if sliders of ``notebooks/explore.ipynb``, or a static table without them.

ipywidgets is optional (the ``lab`` extra).  Sliders only make sense with a
Jupyter frontend attached: papermill and nbclient start kernels without one,
and there widgets would be dead JSON in the output.  :func:`what_if_sliders`
then returns the table of inputs the sliders would have, so a headless run
still shows the athlete, the typical values and the plausible ranges.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recruit_reveal.artifacts import registry
from recruit_reveal.reporting.exploration import score_athlete

from .. import schema
from .tables import position_spec


def frontend_attached() -> bool:
    """True in a kernel that ipywidgets can draw in: a Jupyter Server notebook session.

    Such a kernel has ``JPY_SESSION_NAME``; papermill and nbclient start kernels without it.
    """
    try:
        importlib.import_module("ipywidgets")
        ipython = importlib.import_module("IPython")
    except ImportError:
        return False
    shell = ipython.get_ipython()
    return getattr(shell, "kernel", None) is not None and bool(os.environ.get("JPY_SESSION_NAME"))


def slider_table(loaded: registry.LoadedModel, athlete: Mapping[str, Any]) -> pd.DataFrame:
    """One row per numeric input: the athlete's value, the typical one, the plausible range.

    ``start`` is where its slider starts: the athlete's value, else the typical
    value, else the middle of the range, always inside the range.
    """
    typical = loaded.metadata.typical_values
    rows = {}
    for col in position_spec(loaded).numeric:
        low, high = float(col.low or 0), float(col.high or 100)
        given = athlete.get(col.name)
        seed = given if given is not None else typical.get(col.name)
        rows[col.name] = {"athlete": given, "typical": typical.get(col.name), "unit": col.unit,
                          "low": low, "high": high,
                          "start": float(np.clip(seed if seed is not None else (low + high) / 2,
                                                 low, high))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "input"
    return table


def what_if_sliders(loaded: registry.LoadedModel, athlete: Mapping[str, Any],
                    widgets: bool | None = None) -> Any:
    """Sliders over every input with the live prediction, or :func:`slider_table`.

    ``widgets`` None: sliders when ipywidgets is installed and a frontend is
    attached; True forces them (ImportError naming the extra if ipywidgets is
    missing); False gives the table.
    """
    use = frontend_attached() if widgets is None else bool(widgets)
    if not use:
        return slider_table(loaded, athlete)
    try:
        w = importlib.import_module("ipywidgets")
    except ImportError as exc:
        raise ImportError("the what-if sliders need ipywidgets: pip install "
                          "'recruit-reveal[lab]', or pass widgets=False") from exc
    return _slider_box(w, loaded, athlete)


def _slider_box(w: Any, loaded: registry.LoadedModel, athlete: Mapping[str, Any]) -> Any:
    """The widget: a tick box and a slider per input, the state, the prediction below."""
    controls = {}
    for name, row in slider_table(loaded, athlete).iterrows():
        controls[str(name)] = (
            w.Checkbox(value=name in athlete, indent=False, layout=w.Layout(width="2em")),
            w.FloatSlider(value=row["start"], min=row["low"], max=row["high"],
                          step=(row["high"] - row["low"]) / 200, description=str(name),
                          style={"description_width": "12em"}, layout=w.Layout(width="36em"),
                          continuous_update=False))
    state = w.Dropdown(options=["", *sorted(schema.US_STATES)],
                       value=str(athlete.get("state") or ""), description="state")
    out = w.Output()

    def update(_change: Any = None) -> None:
        values: dict[str, Any] = {name: slider.value for name, (use, slider) in controls.items()
                                  if use.value}
        if state.value:
            values["state"] = state.value
        out.clear_output(wait=True)
        with out:
            importlib.import_module("IPython.display").display(
                score_athlete(loaded, values).to_frame("prediction").T)

    for use, slider in controls.values():
        use.observe(update, "value")
        slider.observe(update, "value")
    state.observe(update, "value")
    update()
    return w.VBox([w.HTML("<b>Tick an input to give it; untick to leave it missing.</b>"),
                   *[w.HBox(pair) for pair in controls.values()], state, out])
