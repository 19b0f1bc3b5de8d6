"""Forecasting a SKU's units sold per day: pure functions on a daily series (no database).

The method depends on the history:
- **Holt-Winters** (statsmodels ``ExponentialSmoothing``: additive damped trend, additive weekly season of
  7 days) when there are at least ``MIN_SEASONAL_DAYS`` days (6 weeks: 4 to learn from and 2 held out for
  the backtest; the season needs two full weeks at least) and the SKU sells on most days. It follows a
  level, a trend (damped, so it does not run away over the horizon) and the weekday pattern.
- **Moving average** of the last ``MA_WINDOW`` days otherwise: short histories (a new product) and
  intermittent sales (a few units now and then), where a seasonal model would fit noise.
- **No sales**: zeros.

The **backtest** holds the last days out (``BACKTEST_DAYS`` for Holt-Winters, 7 for the moving average),
fits the same method on the rest, forecasts the held-out days and reports the MAPE (mean absolute
percentage error) over the held-out days that had sales (a day without sales has no percentage error).
``sigma`` is the spread of the daily error (in-sample residuals; the daily demand's standard deviation
for the moving average), used for safety stock.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

SEASON = 7
BACKTEST_DAYS = 14
MIN_SEASONAL_DAYS = 42
MIN_SELLING_DAYS_SHARE = 0.5
MA_WINDOW = 28
MA_BACKTEST_DAYS = 7
MIN_MA_BACKTEST_HISTORY = 14

HOLT_WINTERS = "holt_winters"
MOVING_AVERAGE = "moving_average"
NO_SALES = "no_sales"


@dataclass
class ForecastResult:
    method: str
    daily: list[float]  # units per day for the horizon, from the day after the history
    sigma: float
    mape: float | None  # fraction (0.12 = 12 %), None when no held-out day had sales
    backtest_days: int


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def mape(actual: list[float], predicted: list[float]) -> float | None:
    """Mean absolute percentage error over the days with actual sales."""
    errors = [abs(a - p) / a for a, p in zip(actual, predicted, strict=True) if a > 0]
    return sum(errors) / len(errors) if errors else None


def moving_average(history: list[float], horizon: int) -> tuple[list[float], float]:
    window = history[-MA_WINDOW:]
    level = sum(window) / len(window) if window else 0.0
    return [level] * horizon, _stdev(window)


def holt_winters(history: list[float], horizon: int) -> tuple[list[float], float]:
    """Fit and forecast; raises ValueError when the model cannot be fitted."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(history, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # convergence chatter of the optimiser
        model = ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=SEASON,
            initialization_method="estimated",
        )
        fit = model.fit(optimized=True)
        predicted = fit.forecast(horizon)
        residuals = y - fit.fittedvalues
    if not np.all(np.isfinite(predicted)) or not np.all(np.isfinite(residuals)):
        raise ValueError("Holt-Winters gave no finite forecast")
    return [max(0.0, float(v)) for v in predicted], float(np.std(residuals, ddof=1))


def choose_method(history: list[float]) -> str:
    if not history or sum(history) <= 0:
        return NO_SALES
    selling_days = sum(1 for v in history if v > 0) / len(history)
    if len(history) >= MIN_SEASONAL_DAYS and selling_days >= MIN_SELLING_DAYS_SHARE:
        return HOLT_WINTERS
    return MOVING_AVERAGE


def forecast_series(history: list[float], *, horizon: int) -> ForecastResult:
    """The forecast of the next ``horizon`` days after ``history`` (units per day, oldest first)."""
    history = [float(v) for v in history]
    method = choose_method(history)
    if method == NO_SALES:
        return ForecastResult(method=NO_SALES, daily=[0.0] * horizon, sigma=0.0, mape=None, backtest_days=0)
    if method == HOLT_WINTERS:
        try:
            daily, sigma = holt_winters(history, horizon)
            train, held_out = history[:-BACKTEST_DAYS], history[-BACKTEST_DAYS:]
            predicted, _sigma = holt_winters(train, BACKTEST_DAYS)
            return ForecastResult(
                method=HOLT_WINTERS,
                daily=daily,
                sigma=sigma,
                mape=mape(held_out, predicted),
                backtest_days=BACKTEST_DAYS,
            )
        except (ValueError, np.linalg.LinAlgError):
            pass  # fall back to the moving average below
    daily, sigma = moving_average(history, horizon)
    error, held = None, 0
    if len(history) >= MIN_MA_BACKTEST_HISTORY:
        train, held_out = history[:-MA_BACKTEST_DAYS], history[-MA_BACKTEST_DAYS:]
        predicted, _sigma = moving_average(train, MA_BACKTEST_DAYS)
        error, held = mape(held_out, predicted), MA_BACKTEST_DAYS
    return ForecastResult(method=MOVING_AVERAGE, daily=daily, sigma=sigma, mape=error, backtest_days=held)
