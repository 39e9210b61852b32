"""arXiv's category taxonomy (https://arxiv.org/category_taxonomy), fixed and small, embedded here.

Used to reject a category arXiv does not have (`cs.XX`, `CS.CL`, `cs.cl`) at config load: arXiv
would answer such a query with nothing at all, silently. `astro-ph` and `cond-mat` are the legacy
whole-archive categories older papers still carry. Update this list when arXiv adds a category.
"""

from __future__ import annotations

import difflib
from fnmatch import fnmatchcase

_SUBJECTS = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS "
    "PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn gen-ph "
    "geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives that are one category each, and the two legacy whole-archive categories.
_STANDALONE = "gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph astro-ph cond-mat"

CATEGORIES: frozenset[str] = frozenset(
    [f"{archive}.{subject}" for archive, subjects in _SUBJECTS.items() for subject in subjects.split()]
    + _STANDALONE.split()
)
_BY_FOLDED = {category.casefold(): category for category in CATEGORIES}


def is_category(name: str) -> bool:
    return name in CATEGORIES


def closest_category(name: str) -> str | None:
    """The valid category the user most likely meant: same letters in another case, else the nearest spelling."""
    folded = name.strip().casefold()
    if folded in _BY_FOLDED:
        return _BY_FOLDED[folded]
    matches = difflib.get_close_matches(folded, list(_BY_FOLDED), n=1, cutoff=0.6)
    return _BY_FOLDED[matches[0]] if matches else None


def category_problem(name: str) -> str | None:
    """None for a valid category, else why not and what to write instead."""
    if is_category(name):
        return None
    archive = name.strip().rstrip(".*").casefold()
    if archive in _SUBJECTS:
        first = _SUBJECTS[archive].split()[0]
        return f"{name!r} is an archive, not a category: list the categories you want (e.g. '{archive}.{first}')"
    hint = closest_category(name)
    suggestion = f"; did you mean {hint!r}?" if hint else "; see https://arxiv.org/category_taxonomy"
    return f"{name!r} is not an arXiv category{suggestion}"


def pattern_problem(pattern: str) -> str | None:
    """For `exclude_categories`, which also takes globs (`cs.*`, `hep-*`) and bare archives (`math`):
    None when the pattern covers at least one real category (any case, as the filter compares)."""
    folded = pattern.strip().casefold()
    if folded in _SUBJECTS or any(fnmatchcase(category, folded) for category in _BY_FOLDED):
        return None
    hint = closest_category(pattern)
    suggestion = f"; did you mean {hint!r}?" if hint else "; see https://arxiv.org/category_taxonomy"
    return f"{pattern!r} matches no arXiv category{suggestion}"
