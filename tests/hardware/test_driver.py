import numpy as np
import pytest

from hardware.clock import ManualClock
from hardware.driver import schedule_chunk
from tests.hardware.stubs import RecordingDriver, pusht_robot

CHUNK = np.arange(8, dtype=np.float64).reshape(4, 2)  # rows 0..3


def test_without_latency_every_point_is_kept_and_the_first_lands_one_tick_after_the_observation():
    timed = schedule_chunk(CHUNK, 0.1, obs_stamp=100.0, latency=0.0)
    np.testing.assert_array_equal(timed.positions, CHUNK)
    assert timed.dropped == 0 and timed.start_stamp == pytest.approx(100.1)


@pytest.mark.parametrize(
    ("latency", "dropped", "start"),
    [(0.05, 0, 100.1), (0.0501, 1, 100.2), (0.1, 1, 100.2), (0.1499, 1, 100.2), (0.1999, 2, 100.3), (0.25, 2, 100.3),
     (0.3, 3, 100.4)],
)
def test_points_past_or_within_half_a_tick_of_observation_plus_latency_are_dropped(latency, dropped, start):
    timed = schedule_chunk(CHUNK, 0.1, obs_stamp=100.0, latency=latency)
    assert timed.dropped == dropped
    np.testing.assert_array_equal(timed.positions, CHUNK[dropped:])
    # the kept points keep their intended times: row i at obs + (i + 1) * dt
    assert timed.start_stamp == pytest.approx(100.0 + (dropped + 1) * 0.1)
    assert timed.start_stamp == pytest.approx(start)
    assert timed.start_stamp - (100.0 + latency) >= 0.05 - 1e-9  # at least half a tick to reach the first point


def test_a_chunk_entirely_in_the_past_leaves_nothing():
    timed = schedule_chunk(CHUNK, 0.1, obs_stamp=0.0, latency=0.5)
    assert timed.positions.shape == (0, 2) and timed.dropped == 4


def test_schedule_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\(T, J\)"):
        schedule_chunk(np.zeros(3), 0.1, 0.0, 0.0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        schedule_chunk(CHUNK, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="latency must be a non-negative"):
        schedule_chunk(CHUNK, 0.1, 0.0, -0.1)


def test_context_manager_connects_then_always_holds_and_closes():
    driver = RecordingDriver(pusht_robot(), ManualClock())
    with pytest.raises(KeyError), driver:
        raise KeyError("boom")
    assert driver.calls == ["connect", "hold", "close"]
