import pytest

from tracker.arxiv_ids import canonical_id, parse_id, shard_month
from tracker.errors import TrackerError


@pytest.mark.parametrize(
    "text, base, version",
    [
        ("2401.01234", "2401.01234", None),
        ("2401.01234v3", "2401.01234", 3),
        ("arXiv:2401.01234v2", "2401.01234", 2),
        ("https://arxiv.org/abs/2401.01234v1", "2401.01234", 1),
        ("http://arxiv.org/abs/1201.4869v1", "1201.4869", 1),
        ("https://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234", 1),
        ("oai:arXiv.org:2509.14988v1", "2509.14988", 1),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("quant-ph/0201082v1", "quant-ph/0201082", 1),
        ("math.GT/0309136v2", "math.GT/0309136", 2),
        ("http://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001", 1),
    ],
)
def test_parse_id_forms(text, base, version):
    parsed = parse_id(text)
    assert (parsed.base, parsed.version) == (base, version)


@pytest.mark.parametrize("text", ["abc", "", "2401.1234567", "0808.05394", "2413.01234", "hep-th/99", "1234.5678v"])
def test_parse_id_rejects_malformed(text):
    with pytest.raises(TrackerError, match="not an arXiv identifier"):
        parse_id(text)


def test_shard_month_comes_from_the_id_so_papers_never_move():
    assert shard_month("2401.01234") == "2024-01"
    assert shard_month("0704.0001") == "2007-04"
    assert shard_month("hep-th/9901001") == "1999-01"
    assert shard_month("astro-ph/0601001") == "2006-01"
    assert canonical_id("arXiv:2401.01234v9") == "2401.01234"
