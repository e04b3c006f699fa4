import pytest

from tests.quality.bank import raw_frames


@pytest.fixture(scope="session")
def clean_raw(tmp_path_factory):
    """The hand-made clean bank as raw-zone frames (written and parsed by the real file format)."""
    return raw_frames(tmp_path_factory.mktemp("clean_bank"))


@pytest.fixture
def raw(clean_raw):
    """A private copy per test, to inject defects into."""
    return {k: v.copy() for k, v in clean_raw.items()}
