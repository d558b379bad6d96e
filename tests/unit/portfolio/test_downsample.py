"""History downsampling: bounded size, a subset in time order, first, last and extremes kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alphapulse.portfolio.logic import downsample


def identity(value: float) -> float:
    return value


def test_downsample_short_series_is_returned_whole() -> None:
    assert downsample([3.0, 1.0, 2.0], 4, key=identity) == [3.0, 1.0, 2.0]


def test_downsample_keeps_spike_between_first_and_last() -> None:
    series = [10.0] * 500
    series[137] = 99.0
    series[401] = -5.0
    kept = downsample(series, 10, key=identity)
    assert len(kept) <= 10
    assert 99.0 in kept
    assert -5.0 in kept


def test_downsample_to_four_points_is_first_last_min_max() -> None:
    series = [5.0, 7.0, 1.0, 9.0, 6.0, 4.0]
    assert downsample(series, 4, key=identity) == [5.0, 1.0, 9.0, 4.0]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=0, max_size=400),
    max_points=st.integers(min_value=4, max_value=120),
)
def test_downsample_properties(values: list[float], max_points: int) -> None:
    # Points are (time, value) with distinct times, so "subset in time order" is checkable.
    points = list(enumerate(values))
    kept = downsample(points, max_points, key=lambda point: point[1])

    assert len(kept) <= max_points
    times = [t for t, _ in kept]
    assert times == sorted(set(times))  # strictly increasing: a subset, in order, no repeats
    assert all(points[t] == (t, v) for t, v in kept)
    if points:
        assert kept[0] == points[0]
        assert kept[-1] == points[-1]
        kept_values = [v for _, v in kept]
        assert min(values) in kept_values
        assert max(values) in kept_values
    if len(points) <= max_points:
        assert kept == points
