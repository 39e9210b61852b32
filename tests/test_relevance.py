from __future__ import annotations

import numpy as np
import pytest

from tracker.enrich import relevance
from tracker.enrich.profile import Profile, ProfileText
from tracker.enrich.relevance import (
    CLASSIFIER, FEEDBACK_PROFILE, SIMILARITY, Relevance, explain, negative_rows, score, score_profiles,
)
from tracker.models import Paper
from tracker.digest import Digest, DigestItem, with_picks

DIM = 16
RNG = np.random.default_rng(7)
# Two areas ("a" around axis 0, "b" around axis 1) plus background noise papers.
CENTRES = {"a": np.eye(DIM)[0], "b": np.eye(DIM)[1]}


def paper(pid: str, **kw) -> Paper:
    return Paper(id=pid, version=1, title=f"Title {pid}", abstract="abstract", topics=("T",), **kw)


def ledger(n_a=12, n_b=12, n_noise=80, seed=7):
    """Papers sorted by id and their unit vectors; ids encode the area: a..., b..., n..."""
    rng = np.random.default_rng(seed)
    rows, papers = [], []
    for area, n in (("a", n_a), ("b", n_b), ("n", n_noise)):
        for i in range(n):
            centre = CENTRES.get(area, np.zeros(DIM))
            rows.append(centre * 2.0 + rng.normal(0, 0.35, DIM))
            papers.append(paper(f"2401.{'abn'.index(area)}{i:04d}"))
    order = np.argsort([p.id for p in papers])
    vectors = np.asarray(rows, dtype=np.float32)[order]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [papers[i] for i in order], vectors


def area(pid: str) -> str:
    return "abn"[int(pid.split(".")[1][0])]


def top(scores: dict[str, float], exclude=(), n=5) -> list[str]:
    return [pid for pid in sorted(scores, key=lambda p: (-scores[p], p)) if pid not in exclude][:n]


A_IDS = ("2401.00000", "2401.00001", "2401.00002", "2401.00003")
B_IDS = ("2401.10000", "2401.10001", "2401.10002")


def test_classifier_ranks_the_profiles_area_first_with_scores_in_0_1():
    papers, vectors = ledger()
    result = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    scores = result.scores[""]
    assert result.methods == {"": CLASSIFIER}
    assert all(0.0 <= v <= 1.0 for v in scores.values()) and len(scores) == len(papers)
    assert [area(pid) for pid in top(scores, exclude=A_IDS, n=6)] == ["a"] * 6
    assert result.own_ids == frozenset(A_IDS)


def test_scores_are_deterministic_and_independent_of_input_row_order():
    papers, vectors = ledger()
    first = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    again = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    assert first == again
    # Profile ids listed in another order, ledger rows in another order: the same model.
    order = np.random.default_rng(3).permutation(len(papers))
    shuffled = score_profiles([papers[i] for i in order], vectors[order], [Profile(ids=tuple(reversed(A_IDS)))])
    assert shuffled.best() == first.best()


def test_too_few_positives_falls_back_to_similarity():
    papers, vectors = ledger()
    result = score_profiles(papers, vectors, [Profile(ids=A_IDS[:1])])
    assert result.methods == {"": SIMILARITY}
    expected = np.clip(vectors @ vectors[[p.id for p in papers].index(A_IDS[0])], 0, 1)
    assert result.scores[""]["2401.00005"] == pytest.approx(float(expected[5]), abs=1e-5)


def test_too_small_a_ledger_falls_back_to_similarity():
    papers, vectors = ledger(n_a=6, n_b=0, n_noise=relevance.MIN_NEGATIVES - 3)
    result = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    assert result.methods == {"": SIMILARITY}
    assert [area(pid) for pid in top(result.scores[""], exclude=A_IDS, n=2)] == ["a", "a"]


def test_interest_texts_are_positives_encoded_by_the_caller():
    papers, vectors = ledger()
    texts = (ProfileText("interest: b things", "b things"), ProfileText("interest: more b", "more b"))
    text_vectors = np.vstack([CENTRES["b"], CENTRES["b"] + 0.1 * CENTRES["a"]])
    result = score_profiles(papers, vectors, [Profile(name="B", texts=texts)], {"B": text_vectors})
    assert result.methods == {"B": CLASSIFIER}
    assert [area(pid) for pid in top(result.scores["B"], n=6)] == ["b"] * 6
    assert result.own_ids == frozenset()  # texts are not papers


def test_vectors_must_line_up_with_papers_and_texts():
    papers, vectors = ledger()
    profile = Profile(name="B", texts=(ProfileText("x", "x"),))
    with pytest.raises(ValueError, match="1 texts but text vectors of shape"):
        score_profiles(papers, vectors, [profile], {})
    with pytest.raises(ValueError, match="1 texts but text vectors of shape"):
        score_profiles(papers, vectors, [profile], {"B": np.ones((1, DIM + 1))})
    with pytest.raises(ValueError, match="104 papers but 103 vectors"):
        score_profiles(papers, vectors[1:], [Profile(ids=A_IDS)])


def test_named_profiles_each_get_their_own_scores_and_best_is_the_max():
    papers, vectors = ledger()
    result = score_profiles(papers, vectors, [Profile(name="A", ids=A_IDS), Profile(name="B", ids=B_IDS)])
    assert [area(pid) for pid in top(result.scores["A"], exclude=A_IDS)] == ["a"] * 5
    assert [area(pid) for pid in top(result.scores["B"], exclude=B_IDS)] == ["b"] * 5
    best = result.best()
    some = "2401.00007"
    assert best[some] == round(max(result.scores["A"][some], result.scores["B"][some]), 4)
    assert result.own_ids == frozenset(A_IDS + B_IDS)


def test_ticks_alone_make_an_implicit_profile():
    papers, vectors = ledger()
    ticks = {"2401.10003": "2026-01-02", "2401.10004": "2026-01-02", "2401.10005": "2026-01-03"}
    result = score_profiles(papers, vectors, [], {}, ticks)
    assert result.methods == {FEEDBACK_PROFILE: CLASSIFIER}
    assert [area(pid) for pid in top(result.scores[FEEDBACK_PROFILE], exclude=ticks)] == ["b"] * 5
    assert result.own_ids == frozenset(ticks)
    assert result.profiles[0].feedback == tuple(sorted(ticks))


def test_each_tick_teaches_the_profile_it_is_closest_to():
    papers, vectors = ledger()
    ticks = {"2401.10005": "2026-01-02", "2401.00009": "2026-01-02", "2409.99999": "2026-01-02"}  # last: unknown
    result = score_profiles(papers, vectors, [Profile(name="A", ids=A_IDS), Profile(name="B", ids=B_IDS)], {}, ticks)
    by_name = {p.name: p for p in result.profiles}
    assert by_name["A"].feedback == ("2401.00009",)
    assert by_name["B"].feedback == ("2401.10005",)
    assert "2409.99999" in result.own_ids  # not in the ledger yet, still the group's


def test_ticks_lift_papers_like_them():
    """Ticking b-papers makes the a-profile's group see more b: the feedback is a positive."""
    papers, vectors = ledger()
    before = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    ticks = {pid: "2026-01-02" for pid in ("2401.10003", "2401.10004", "2401.10005")}
    after = score_profiles(papers, vectors, [Profile(ids=A_IDS)], {}, ticks)
    other_b = [p.id for p in papers if area(p.id) == "b" and p.id not in ticks]
    assert np.mean([after.scores[""][pid] for pid in other_b]) > 2 * np.mean([before.scores[""][pid] for pid in other_b])


def test_empty_profiles_and_no_feedback_score_nothing():
    papers, vectors = ledger()
    assert score_profiles(papers, vectors, []) == Relevance()
    result = score_profiles(papers, vectors, [Profile(name="X", ids=("2409.99999",))])  # not in the ledger
    assert result.profiles[0].scores == {} and result.best() == {}


def test_negatives_are_subsampled_stably_as_the_ledger_grows():
    papers = [paper(f"2401.{i:05d}") for i in range(300)]
    grown = papers + [paper(f"2402.{i:05d}") for i in range(30)]
    small = negative_rows(papers, frozenset({0, 1}), cap=100)
    large = negative_rows(grown, frozenset({0, 1}), cap=100)
    assert len(small) == 100 and small == sorted(small) and not {0, 1} & set(small)
    # 10% more papers: the new ones take ~10% of the places, the rest of the sample stays.
    assert len({papers[i].id for i in small} & {grown[i].id for i in large}) >= 80
    assert negative_rows(papers, frozenset({0}), cap=1000) == list(range(1, 300))


def test_explain_splits_the_classifier_score_into_example_terms():
    papers, vectors = ledger()
    ticks = {"2401.00010": "2026-01-02"}
    target = "2401.00008"
    data = explain(target, papers, vectors, [Profile(ids=A_IDS)], {}, ticks, k=2)
    scored = score_profiles(papers, vectors, [Profile(ids=A_IDS)], {}, ticks)
    (entry,) = data["profiles"]
    assert entry["method"] == CLASSIFIER and entry["positives_used"] == 5 and entry["feedback_used"] == 1
    assert entry["score"] == round(scored.scores[""][target], 4)
    total = entry["positives_term"] + entry["negatives_term"] + entry["intercept"]
    assert total == pytest.approx(entry["logit"], abs=2e-3)  # exact at the optimum
    assert 1 / (1 + np.exp(-entry["logit"])) == pytest.approx(entry["score"], abs=1e-3)
    contributions = [p["contribution"] for p in entry["top_positives"]]
    assert len(contributions) == 2 and contributions == sorted(contributions, reverse=True) and contributions[0] > 0
    assert data["own"] is False and explain(A_IDS[0], papers, vectors, [Profile(ids=A_IDS)])["own"] is True


def test_explain_of_the_fallback_names_the_closest_positives():
    papers, vectors = ledger()
    data = explain("2401.00008", papers, vectors, [Profile(ids=(A_IDS[0],))], k=3)
    (entry,) = data["profiles"]
    assert entry["method"] == SIMILARITY and len(entry["top_positives"]) == 1
    assert entry["top_positives"][0]["label"] == f"{A_IDS[0]} Title {A_IDS[0]}"
    assert entry["score"] == pytest.approx(entry["top_positives"][0]["similarity"], abs=1e-4)
    with pytest.raises(KeyError):
        explain("2409.99999", papers, vectors, [Profile(ids=A_IDS)])


def test_max_similarity_baseline_is_kept_for_the_benchmark():
    profile = np.eye(3, dtype=np.float32)[:2]
    assert score(np.eye(3, dtype=np.float32), profile).tolist() == pytest.approx([1, 1, 0])
    assert score(np.eye(3), np.zeros((0, 3))) is None


def _digest(papers: list[Paper], revised: tuple[Paper, ...] = ()) -> Digest:
    return Digest(date="2026-01-02", new=tuple(DigestItem(p) for p in papers),
                  revised=tuple(DigestItem(p) for p in revised), new_total=len(papers), revised_total=len(revised))


def test_picks_per_profile_never_include_the_groups_own_papers():
    papers, vectors = ledger()
    ticks = {"2401.00011": "2026-01-01"}
    result = score_profiles(papers, vectors, [Profile(name="A", ids=A_IDS), Profile(name="B", ids=B_IDS)], {}, ticks)
    revised = paper(B_IDS[0], revised_on="2026-01-02")
    digest = with_picks(_digest([p for p in papers if p.id != revised.id], (revised,)), result, n=4)
    assert [pp.name for pp in digest.profile_picks] == ["A", "B"]
    for pp in digest.profile_picks:
        ids = [pick.item.paper.id for pick in pp.picks]
        assert len(ids) == 4 and not set(ids) & result.own_ids
        assert {area(pid) for pid in ids} == {pp.name.lower()}
        assert [pick.score for pick in pp.picks] == sorted((pick.score for pick in pp.picks), reverse=True)
    own = [item.paper.id for item in digest.own_papers]
    assert own == sorted(set(A_IDS + B_IDS[1:] + ("2401.00011",))) + [B_IDS[0]]


def test_no_profile_means_no_picks():
    papers, _ = ledger(n_noise=5)
    digest = with_picks(_digest(papers), Relevance())
    assert digest.profile_picks == () and digest.own_papers == ()


def test_digest_opens_with_picks_per_profile_and_sets_the_groups_papers_apart():
    from tests.hostile import foreign_elements, normalise, parse, render_gfm, visible_text
    from tracker.publish.tasks import as_task_list, task_items
    from tracker.render.markdown import environment, render_digest

    papers, vectors = ledger()
    papers = [p.with_changes(first_seen="2026-01-02", abs_url=f"https://arxiv.org/abs/{p.id}") for p in papers]
    hostile = "<b>@team</b> | #1 *B*"
    result = score_profiles(papers, vectors, [Profile(name="A", ids=A_IDS), Profile(name=hostile, ids=B_IDS)])
    digest = with_picks(_digest(papers), result)
    markdown = render_digest(environment(), digest, cap=200)
    html = render_gfm(markdown)
    headings = [normalise(h.text_content()) for h in parse(html).iter("h2")]
    assert headings[:3] == ["Top picks for A", f"Top picks for {hostile}", "Your papers in today's news"]
    assert foreign_elements(html) == [] and "@team" in visible_text(html)
    assert "Ranked by a model trained on this profile's papers" in markdown
    assert markdown.index("Top picks for A") < markdown.index("## New")
    # Each pick links its paper, so members can tick it in the issue like any other entry.
    picked = {pick.item.paper.id for pp in digest.profile_picks for pick in pp.picks}
    ticks = {item.paper for item in task_items(as_task_list(markdown))}
    assert picked <= ticks and len(picked) == 10


def test_unnamed_profile_picks_are_just_top_picks():
    from tracker.render.markdown import environment, render_digest

    papers, vectors = ledger()
    papers = [p.with_changes(first_seen="2026-01-02") for p in papers]
    digest = with_picks(_digest(papers), score_profiles(papers, vectors, [Profile(ids=A_IDS[:1])]))
    markdown = render_digest(environment(), digest, cap=200)
    assert "## Top picks\n" in markdown and "Closest to the group's papers" in markdown


def test_one_profile_paper_in_a_dense_off_target_cluster_does_not_take_the_list():
    """Issue 11's trap: max similarity hands the top picks to the crowd around one profile paper."""
    rng = np.random.default_rng(11)
    def around(axis, spread, n):
        rows = np.eye(DIM)[axis] * 2.0 + rng.normal(0, spread, (n, DIM))
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)
    vectors = np.vstack([around(0, 0.45, 14), around(2, 0.12, 25), around(3, 1.5, 60)]).astype(np.float32)
    papers = [paper(f"2401.{i:05d}") for i in range(len(vectors))]  # 0-13: on target, 14-38: the crowd
    profile = Profile(ids=tuple(p.id for p in papers[:4]) + (papers[14].id,))
    on_target = {p.id for p in papers[4:14]}
    day = [p.id for p in papers if p.id not in profile.ids]
    by_max = sorted(day, key=lambda pid: -score(vectors, vectors[[int(i[5:]) for i in profile.ids]])[int(pid[5:])])
    assert len(on_target & set(by_max[:5])) <= 1  # the trap is real for max similarity
    scores = score_profiles(papers, vectors, [profile]).scores[""]
    assert len(on_target & set(top(scores, exclude=profile.ids))) >= 4
