"""Forecasting a SKU's units sold per day: pure functions on a daily series (no database).

The method depends on the history:
- **Holt-Winters** (statsmodels ``ExponentialSmoothing``: additive damped trend, additive weekly season of
  7 days) when there are at least ``MIN_SEASONAL_DAYS`` days (6 weeks: 4 to learn from and 2 held out for
  the backtest; the season needs two full weeks at least) and the SKU sells on most days. It follows a
  level, a trend (damped, so it does not run away over the horizon) and the weekday pattern.
- **Moving average** of the last ``MA_WINDOW`` days otherwise: short histories (a new product) and
  intermittent sales (a few units now and then), where a seasonal model would fit noise.
- **No sales**: zeros.

The **backtest** holds the last 2 weeks out (1 week for a history under 4 weeks; none under 2 weeks),
fits the same method on the rest, forecasts the held-out days and reports the MAPE (mean absolute
percentage error) of the weekly totals, over the held-out weeks that had sales.
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


def mape(actual: list[float], predicted: list[float], *, block: int = SEASON) -> float | None:
    """Mean absolute percentage error of the totals of consecutive ``block``-day periods (weeks) that had
    sales: what matters for buying is how many units a week brings, and a day's count of a few units is
    mostly noise (a weekday without sales has no percentage error at all)."""
    pairs = [
        (sum(actual[i : i + block]), sum(predicted[i : i + block])) for i in range(0, len(actual), block)
    ]
    errors = [abs(a - p) / a for a, p in pairs if a > 0]
    return sum(errors) / len(errors) if errors else None


def moving_average(history: list[float], horizon: int) -> tuple[list[float], float]:
    window = history[-MA_WINDOW:]
    level = sum(window) / len(window) if window else 0.0
    return [level] * horizon, _stdev(window)


def _hw_model(y, **initial):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(
        y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON, **initial
    )


def _finite(*arrays) -> None:
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("Holt-Winters gave no finite forecast")


def holt_winters(history: list[float], horizon: int, *, backtest_days: int = 0):
    """Fit on the history (less the ``backtest_days`` held out), forecast the held-out days, then run the
    fitted model (same parameters and initial states, which start on the same day) through the held-out
    days and forecast the horizon: one optimisation instead of two.

    Returns (forecast, sigma, held-out forecast); raises ValueError when the model cannot be fitted."""
    y = np.asarray(history, dtype=float)
    train = y[:-backtest_days] if backtest_days else y
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # convergence chatter of the optimiser
        fitted = _hw_model(train, initialization_method="estimated").fit(optimized=True)
        held_out = fitted.forecast(backtest_days) if backtest_days else np.array([])
        if backtest_days:
            p = fitted.params
            fitted = _hw_model(
                y,
                initialization_method="known",
                initial_level=p["initial_level"],
                initial_trend=p["initial_trend"],
                initial_seasonal=p["initial_seasons"],
            ).fit(
                smoothing_level=p["smoothing_level"],
                smoothing_trend=p["smoothing_trend"],
                smoothing_seasonal=p["smoothing_seasonal"],
                damping_trend=p["damping_trend"],
                optimized=False,
            )
        predicted = fitted.forecast(horizon)
        residuals = y - fitted.fittedvalues
    _finite(predicted, residuals, held_out)
    return (
        [max(0.0, float(v)) for v in predicted],
        float(np.std(residuals, ddof=1)),
        [max(0.0, float(v)) for v in held_out],
    )


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
            daily, sigma, predicted = holt_winters(history, horizon, backtest_days=BACKTEST_DAYS)
            return ForecastResult(
                method=HOLT_WINTERS,
                daily=daily,
                sigma=sigma,
                mape=mape(history[-BACKTEST_DAYS:], predicted),
                backtest_days=BACKTEST_DAYS,
            )
        except (ValueError, np.linalg.LinAlgError):
            pass  # fall back to the moving average below
    daily, sigma = moving_average(history, horizon)
    error, held = None, 0
    if len(history) >= MIN_MA_BACKTEST_HISTORY:
        held = BACKTEST_DAYS if len(history) >= 2 * BACKTEST_DAYS else MA_BACKTEST_DAYS
        predicted, _sigma = moving_average(history[:-held], held)
        error = mape(history[-held:], predicted)
    return ForecastResult(method=MOVING_AVERAGE, daily=daily, sigma=sigma, mape=error, backtest_days=held)
