"""Every reader under seeded fuzzing: a load or a one-line StarposeError, nothing else (500 cases
per reader by default; ``--fuzz-cases N`` for the long campaign of ``make faults``)."""
import pytest

from tests.fuzz_harness import fuzz
from tests.fuzz_readers import READERS


@pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
def test_every_fuzz_case_loads_or_is_refused_in_one_line(reader, tmp_path, request, record_property):
    cases = request.config.getoption("--fuzz-cases")
    tally = fuzz(reader, tmp_path, cases, seed=0)
    print(f"\nfuzz {reader.name}: {tally.cases} cases, {tally.loaded} loaded, {tally.refused} refused, "
          f"{len(tally.defects)} defects, slowest {tally.slowest:.2f} s, memory per case at most "
          f"{tally.traced_peak / 2**20:.1f} MiB traced, resident +{tally.rss_growth / 2**20:.1f} MiB "
          f"(peak {tally.rss_peak / 2**20:.0f} MiB)")
    assert tally.cases == cases
    assert not tally.defects, "\n".join(tally.defects[:10])
