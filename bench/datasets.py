"""Public real datasets that ship inside packages on the package index, for choosing and checking the default
recipe (bench/recipe_study.py). None is tuned on by hand; the UCR/UEA archives bundled in sktime or aeon are
deliberately absent (kept aside as an independent check).

Each entry writes a CSV that `rgan prepare` reads as a user's file would be, with the `data` settings a user
would give it (time column, sequence column, missing-value rule). Install the packages with
`pip install statsmodels vega_datasets` (bench-only, not project dependencies).

| name | source | shape | character |
|---|---|---|---|
| seattle-temps | vega_datasets (NOAA) | 1 series x 8,759 hourly steps x 1 | smooth daily cycle, long |
| seattle-weather | vega_datasets (NOAA) | 1 series x 1,461 daily steps x 4 | noisy, zero-inflated rain |
| co2 | statsmodels (Mauna Loa) | 1 series x 2,284 weekly steps x 1 | trend + season, 59 gaps (ffill) |
| fertility | statsmodels (World Bank) | 219 countries x 56 years x 1 | per-entity, slow trends, gaps (ffill) |
| stocks-monthly | vega_datasets | 5 companies x ~123 months x 1 | per-entity, few and nonstationary |
| sines | built in (TimeGAN) | 10,000 x 24 x 5 | the lab dataset |
| stocks | ../shared (TimeGAN paper) | 1 series x 3,685 days x 6 | the paper's real dataset |
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# the TimeGAN paper's Stocks CSV: $RGAN_SHARED/data/timegan/, else ../shared beside the checkout (never copied here)
STOCKS = Path(os.environ.get("RGAN_SHARED", ROOT.parent / "shared")) / "data" / "timegan" / "stock_data.csv"


def _vega(name: str) -> pd.DataFrame:
    from vega_datasets import local_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(local_data, name.replace("-", "_"))()


def _statsmodels(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def seattle_temps() -> pd.DataFrame:
    return _vega("seattle-temps")


def seattle_weather() -> pd.DataFrame:
    return _vega("seattle-weather").drop(columns=["weather"])


def co2() -> pd.DataFrame:
    data = _statsmodels("co2")
    return pd.DataFrame({"date": data.index.strftime("%Y-%m-%d"), "co2": data["co2"].to_numpy()})


def fertility() -> pd.DataFrame:
    wide = _statsmodels("fertility")
    years = [c for c in wide.columns if str(c).isdigit()]
    long = wide.melt(id_vars=["Country Code"], value_vars=years, var_name="year", value_name="fertility")
    long["year"] = long["year"].astype(int)
    # countries with no value at all cannot be filled forward
    return long[long.groupby("Country Code")["fertility"].transform("count") > 0]


def stocks_monthly() -> pd.DataFrame:
    return _vega("stocks")


def stocks() -> pd.DataFrame:
    return pd.read_csv(STOCKS)


# name -> (writer of the raw table, the user's data settings for it)
DATASETS: dict[str, tuple[Callable[[], pd.DataFrame] | None, dict]] = {
    "seattle-temps": (seattle_temps, {"time_column": "date", "sequence_column": None}),
    "seattle-weather": (seattle_weather, {"time_column": "date", "sequence_column": None}),
    "co2": (co2, {"time_column": "date", "sequence_column": None, "missing": "ffill"}),
    "fertility": (fertility, {"time_column": "year", "sequence_column": "Country Code", "missing": "ffill"}),
    "stocks-monthly": (stocks_monthly, {"time_column": "date", "sequence_column": "symbol"}),
    "sines": (None, {}),  # written by rgan.data.sines
    "stocks": (stocks, {"time_column": None, "sequence_column": None}),
}
REAL = ["seattle-temps", "seattle-weather", "co2", "fertility", "stocks-monthly"]
PACKAGES = ("statsmodels", "vega_datasets")  # the bench-only packages the real datasets ship in


def unavailable_packages() -> list[str]:
    """The PACKAGES that cannot be imported here (not installed, or broken)."""
    import importlib

    missing = []
    for name in PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def write(name: str, directory: Path) -> dict:
    """Write dataset `name` under `directory`; return its `data` settings (path included)."""
    make, settings = DATASETS[name]
    directory.mkdir(parents=True, exist_ok=True)
    if make is None:
        from rgan.config import SinesConfig
        from rgan.data.sines import write_sines

        path = directory / "sines.parquet"
        write_sines(SinesConfig(), path)
        return {"path": str(path), "time_column": "step", "sequence_column": "sequence_id"}
    path = directory / f"{name}.csv"
    make().to_csv(path, index=False)
    return {"path": str(path), **settings}
