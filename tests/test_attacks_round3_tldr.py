"""Attack round 3 on LLM TL;DRs: answers that are links, mentions or redirects in disguise, through the
real `openai` client against a loopback chat-completions server (tests/llm_fake.py)."""
from __future__ import annotations

import pytest

from tests.llm_fake import Reply, honest
from tests.test_tldr_llm import llm  # noqa: F401 - pytest fixture
from tracker.config_types import LLMSettings
from tracker.enrich.tldr_check import check_tldr
from tracker.enrich.tldr_llm import llm_tldrs
from tracker.models import Paper

KEY = "sk-round3-7c1e9a2b4d6f8a0c2e4b6d8f"
TITLE = "Neural graph colouring"

# Each payload sits in the paper's abstract too, so the answer is "grounded": the form check alone must refuse it.
DISGUISED = {
    "unlisted_tld": "Neural graph colouring code is released at evil.zip for everyone",
    "tld_with_path": "Neural graph colouring solvers are downloadable from payload.mov/run today",
    "parenthesised_dot": "Neural graph colouring code is released at evil(.)com for everyone",
    "braced_dot": "Neural graph colouring code is released at evil{dot}org for everyone",
    "spelled_dot": "Neural graph colouring code is released at evil dot com for everyone",
    "defanged_scheme": "Neural graph colouring code is released at hxxps evil for everyone",
    "ideographic_dot": "Neural graph colouring code is released at evil\u3002com for everyone",
    "fullwidth_domain": "Neural graph colouring code is released at \uff45\uff56\uff49\uff4c\uff0e\uff43\uff4f\uff4d today",
    "fullwidth_at_everyone": "Neural graph colouring results were shared with \uff20everyone in the lab",
    "fullwidth_at_here": "Neural graph colouring results were shared with \uff20here in the lab",
    "small_at": "Neural graph colouring results were shared with \ufe6beveryone in the lab",
}


def paper(abstract: str) -> Paper:
    return Paper(id="2601.00001", version=1, title=TITLE, abstract=f"{abstract}. We colour random graphs fast.",
                 tldr="We colour random graphs fast.", tldr_source="extractive")


def ask(url: str, papers: list[Paper]):
    settings = LLMSettings(base_url=url, model="fake-model", timeout_seconds=10.0, budget_seconds=20.0)
    return llm_tldrs(papers, settings, env={"LLM_API_KEY": KEY}, backoff=0.05)


@pytest.mark.parametrize("answer", list(DISGUISED.values()), ids=list(DISGUISED))
def test_a_link_or_mention_in_disguise_is_refused_and_the_extractive_line_kept(llm, answer):
    server = llm(Reply(answer + "."))
    done, report = ask(server.url, [paper(answer)])
    assert done == [] and report.rejected == 1
    assert any(word in " ".join(report.problems) for word in ("a link", "an @mention"))


@pytest.mark.parametrize("answer", [
    "Neural graph colouring with message passing colours random graphs faster than greedy baselines.",
    "A 1.5B-parameter solver colours random graphs 3.5x faster, e.g. on dense graphs, than greedy baselines.",
])
def test_ordinary_sentences_with_dots_and_numbers_still_pass(answer):
    text, problem = check_tldr(answer, TITLE, f"{answer} We colour random graphs fast.")
    assert problem is None and text == answer


def test_a_redirect_to_another_host_never_carries_the_key_there(llm):
    elsewhere = llm(Reply(honest))
    server = llm(Reply(status=307, headers={"Location": f"{elsewhere.url}/chat/completions"}, body=b""))
    ask(server.url, [paper("We colour random graphs fast")])
    assert server.auth and KEY in server.auth[0]  # sanity: the key went where it was configured
    assert all(KEY not in value for value in elsewhere.auth)


def test_a_200_holding_an_error_object_keeps_the_extractive_line(llm):
    server = llm(Reply(body=b'{"error": {"message": "quota exceeded for sk-round3", "type": "insufficient_quota"}}'))
    done, report = ask(server.url, [paper("We colour random graphs fast")])
    assert done == [] and KEY not in repr(report.to_dict())


@pytest.mark.parametrize("reply", [
    Reply(body=b"\x1f\x8b\x08\x00garbage-not-gzip" * 10, headers={"Content-Encoding": "gzip"}),
    Reply(body=b'{"choices": [{"message": {"content": ["a", "list"]}}]}'),
    Reply(body=b'{"choices": [{"message": {"content": "x\\u0000y"}}]}'),
], ids=["gzip garbage", "content not a string", "NUL in content"])
def test_a_garbled_answer_keeps_the_extractive_line_and_names_no_key(llm, reply):
    server = llm(reply)
    done, report = ask(server.url, [paper("We colour random graphs fast")])
    assert done == [] and KEY not in repr(report.to_dict())
