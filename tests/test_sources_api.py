"""The arXiv API source over real HTTP against a loopback server replaying recorded responses."""
import pytest

from tests.arxiv_fake import Fault, entry, feed, fixture
from tracker.errors import SourceError
from tracker.sources.api import ArxivAPISource
from tracker.sources.http import PoliteSession

PAGES = {start: fixture(f"api_search_testing_page_start{start}_max10.xml") for start in range(0, 60, 10)}


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def source(arxiv_server, sleeps):
    http = PoliteSession(delay_seconds=3.0, retries=3, timeout=5, backoff_seconds=1.0, sleep=sleeps.append)
    return ArxivAPISource(arxiv_server.api_url, http, page_size=10)


def test_pages_through_recorded_results_newest_first(arxiv_server, source, sleeps):
    arxiv_server.add_pages("all:testing", PAGES)
    papers = source.fetch_query("all:testing", limit=30)
    assert len(papers) == 30
    assert papers[0].id == "2202.12139" and papers[0].version == 1
    assert [r["start"] for r in arxiv_server.api_requests()] == ["0", "10", "20"]
    first = arxiv_server.api_requests()[0]
    assert first["sortBy"] == "lastUpdatedDate" and first["sortOrder"] == "descending"
    assert first["search_query"] == "all:testing" and first["max_results"] == "10"
    # the courtesy delay is kept between requests (no sleep before the first)
    assert len(sleeps) == 2 and all(0 < s <= 3.0 for s in sleeps)


def test_paper_fields_from_current_layout(arxiv_server, source):
    arxiv_server.add_pages("all:testing", PAGES)
    paper = source.fetch_query("all:testing", limit=10)[0]
    assert paper.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert paper.authors[:2] == ("Mohit Kumar Ahuja", "Arnaud Gotlieb")
    assert paper.categories == ("cs.SE", "cs.LG") and paper.primary_category == "cs.SE"
    assert paper.published == "2022-02-24T15:05:19Z" and paper.updated == "2022-02-24T15:05:19Z"
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert paper.comment.startswith("Artificial Intelligence in Software Testing")
    assert paper.journal_ref.startswith("Artificial Intelligence in Software Testing @ 2022")
    assert paper.abs_url == "https://arxiv.org/abs/2202.12139"
    assert paper.pdf_url == "https://arxiv.org/pdf/2202.12139v1"


def test_legacy_layout_wrapped_titles_and_http_links(arxiv_server, source):
    arxiv_server.add_pages("au:del_maestro", {0: fixture("legacy_search_query_au_del_maestro.xml")})
    papers = source.fetch_query("au:del_maestro", limit=10)
    assert len(papers) == 10
    first = papers[0]
    assert first.id == "1201.4869" and first.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert "\n" not in first.abstract and first.abstract.startswith("As helium-4 is cooled")
    assert all("\n" not in p.title and "  " not in p.title for p in papers)
    assert first.abs_url.startswith("https://")


def test_empty_page_mid_pagination_is_retried(arxiv_server, source):
    arxiv_server.add_pages("all:testing", PAGES)
    # the second page comes back as the sporadic "valid but empty" page once, then for real
    arxiv_server.once[("all:testing", 10)] = [fixture("made_api_empty_page_mid_pagination_start1000.xml")]
    papers = source.fetch_query("all:testing", limit=20)
    assert len(papers) == 20
    assert [r["start"] for r in arxiv_server.api_requests()] == ["0", "10", "10"]


def test_503_and_429_bursts_are_retried_with_backoff_and_retry_after(arxiv_server, source, sleeps):
    arxiv_server.add_pages("all:testing", PAGES)
    arxiv_server.faults = [Fault(503), Fault(429, headers={"Retry-After": "7"}), Fault(503)]
    papers = source.fetch_query("all:testing", limit=10)
    assert len(papers) == 10
    assert len(arxiv_server.api_requests()) == 4
    assert 7.0 in sleeps  # Retry-After honoured
    assert sleeps[0] >= 1.0  # exponential backoff before the first retry


def test_persistent_503_becomes_a_source_error(arxiv_server, source):
    arxiv_server.faults = [Fault(503)] * 4
    with pytest.raises(SourceError, match="did not answer after 4 attempts: HTTP 503"):
        source.fetch_query("all:testing", limit=10)


def test_error_feed_becomes_a_clear_error_without_retries(arxiv_server, source):
    arxiv_server.faults = [Fault(400, fixture("api_error_incorrect_id_format_abc_HTTP400.xml"))]
    with pytest.raises(SourceError, match="arXiv rejected the query: incorrect id format for abc"):
        source.fetch_query("id:abc", limit=10)
    assert len(arxiv_server.api_requests()) == 1


def test_legacy_error_feed_served_with_200_is_an_error_too(arxiv_server, source):
    arxiv_server.add_pages("bad", {0: fixture("legacy_error_incorrect_id_format_from_user_manual.xml")})
    with pytest.raises(SourceError, match="incorrect id format for 1234.12345"):
        source.fetch_query("bad", limit=10)


def test_zero_results_is_an_empty_list(arxiv_server, source):
    arxiv_server.add_pages("nothing", {0: fixture("api_zero_results_invalid_5digit_pre2015_0808.05394.xml")})
    assert source.fetch_query("nothing", limit=10) == []


def test_old_style_ids_title_zero_and_utf8_authors(arxiv_server, source):
    arxiv_server.ids["quant-ph/0201082v1"] = fixture("api_idlist_oldstyle_quant-ph_0201082v1.xml")
    arxiv_server.ids["2104.12255v1"] = fixture("api_idlist_2104.12255v1_title0_single_entry.xml")
    arxiv_server.ids["1707.08567"] = fixture("api_idlist_1707.08567_34_authors_utf8.xml")
    old = source.fetch_ids(["quant-ph/0201082v1"])[0]
    assert old.id == "quant-ph/0201082" and old.version == 1
    zero = source.fetch_ids(["2104.12255v1"])[0]
    assert zero.title == "0"
    many = source.fetch_ids(["1707.08567"])[0]
    assert len(many.authors) == 34
    assert any(not a.isascii() for a in many.authors)


def test_stops_paging_at_a_page_of_known_papers(arxiv_server, source):
    arxiv_server.add_pages("all:testing", PAGES)
    first_page_ids = {p.id for p in source.fetch_query("all:testing", limit=10)}
    arxiv_server.requests.clear()
    papers = source.fetch_query("all:testing", limit=60, is_known=lambda p: p.id in first_page_ids)
    assert len(papers) == 10
    assert len(arxiv_server.api_requests()) == 1


def test_new_version_of_a_known_paper_is_not_known(arxiv_server, source):
    body = feed([entry("2411.00001", 2, title="Revised")], total=1)
    arxiv_server.add_pages("q", {0: body})
    papers = source.fetch_query("q", limit=10, is_known=lambda p: p.version <= 1)
    assert papers[0].version == 2


def test_a_timeout_is_retried(arxiv_server):
    arxiv_server.add_pages("all:testing", PAGES)
    arxiv_server.faults = [Fault(200, PAGES[0], delay=0.6)]  # answers, but too late
    # real sleeps here: the loopback server is busy with the slow answer until it is sent
    http = PoliteSession(delay_seconds=0, retries=2, timeout=0.3, backoff_seconds=0.5)
    papers = ArxivAPISource(arxiv_server.api_url, http, page_size=10).fetch_query("all:testing", limit=10)
    assert len(papers) == 10 and len(arxiv_server.api_requests()) == 2


def test_secrets_free_user_agent_and_single_connection(arxiv_server, source):
    arxiv_server.add_pages("all:testing", PAGES)
    source.fetch_query("all:testing", limit=10)
    assert source.client.http.session.headers["User-Agent"].startswith("paper-tracker")


def test_the_private_arxiv_names_we_build_on_are_still_there():
    """tracker.sources.api overrides Client._parse_feed and uses arxiv._feed (see its docstring):
    a release that moves them must fail here, not silently in a daily run."""
    import inspect

    import arxiv
    from arxiv import _feed

    params = list(inspect.signature(arxiv.Client._parse_feed).parameters)
    assert params[:4] == ["self", "url", "first_page", "_try_index"]
    assert callable(_feed._build_result)
    assert {"header", "results"} <= set(inspect.signature(_feed.ParsedFeed).parameters)
    assert {"total_results", "items_per_page", "start_index"} <= set(inspect.signature(_feed.FeedHeader).parameters)
    assert list(inspect.signature(arxiv.Client._format_url).parameters) == ["self", "search", "start", "page_size"]


def test_the_user_agent_names_the_tracker_and_who_runs_it(monkeypatch):
    from tracker.sources.http import PoliteSession, repository_url, user_agent

    assert user_agent("lab@example.org").startswith("paper-tracker/")
    assert "lab@example.org" in user_agent("lab@example.org")
    assert "(b)" not in user_agent("a (b) c")  # a contact cannot close the parenthesis early
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/papers")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    assert repository_url() == "https://github.com/acme/papers"
    monkeypatch.setenv("GITHUB_REPOSITORY", "evil.example@acme/../x")
    assert repository_url() is None
    assert "lab@example.org" in PoliteSession(contact="lab@example.org").session.headers["User-Agent"]
