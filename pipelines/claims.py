"""Claims: one statement carried by many articles, as one row.

A press conference is quoted by many papers in slightly different words. Quotations of the
same speaker whose texts say the same thing form a *claim*; ``quotes.claim_id`` links each
quotation to its claim, and the ``claims`` table counts how widely it was carried.

How quotations are grouped (no comparison of every quote with every other):

1. Only quotations by one of the five speakers take part; a quotation with a null
   ``speaker_id`` (Putin, Obama, unnamed sources ...) gets a null ``claim_id``. Lumping
   "anyone else" together would put different people's words in one claim.
2. Texts are normalised the Arabic way (:func:`claim_tokens`): diacritics and tatweel
   removed, alef/ya/teh marbuta folded as the scorer does, clitic و/ف/ب/ك/ل before the
   article ال stripped, a few press spelling variants folded (سورية/سوريا, أميركي/أمريكي).
3. Quotations of one speaker with the same normalised words are one group (syndicated
   copies cost nothing more). Each group gets a MinHash signature of its content words
   (stop words removed), and long quotations also one signature per window of
   ``ClaimParams.window`` content words, so a short report of one sentence finds the long
   report that contains it. LSH banding buckets the signatures by speaker; only groups sharing a
   bucket become candidate pairs.
4. A candidate pair joins when :func:`same_statement` says so (containment of content
   words, with word-order and negation checks); joined groups form clusters with
   union-find. The clusters are the connected components of the joined pairs, so they do
   not depend on row order.

Claim ids are stable: a claim's id is a hash of its anchor, the earliest member
(published_date, then quote_id; quote ids are content hashes). When ``previous_claims``
is given, a cluster holding quotations that were already in a claim keeps that claim's id
(the one it holds most members of), so ids survive reruns and growing inputs.

Counting sources: ``n_sources`` counts distinct ``articles.source`` (the newspaper); an
article whose source is unknown (every ``.txt`` input) counts as a source of its own, so
for the ``.txt`` seeds ``n_sources`` equals ``n_articles``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.arabic import normalise
from pipelines.speakers import speaker_ids

# --- schema --------------------------------------------------------------------------------

TABLE_NAME = "claims"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


# The column ``quotes`` gains: append it to ``tabulate.SCHEMAS["quotes"]``.
CLAIM_ID_FIELD: pa.Field = _field(
    "claim_id",
    pa.string(),
    "The claim the quotation belongs to (claims.claim_id); null when speaker_id is null.",
    nullable=True,
)

CLAIMS_SCHEMA: pa.Schema = pa.schema(
    [
        _field(
            "claim_id",
            pa.string(),
            "Stable id of the claim: 16 hex digits, kept across runs while its quotations last.",
        ),
        _field("speaker_id", pa.string(), "lavrov, kerry, shoigu, hagel or muallem."),
        _field(
            "canonical_text",
            pa.string(),
            "The most complete form of the statement: the text of its longest quotation.",
        ),
        _field(
            "canonical_quote_id",
            pa.string(),
            "The quotation whose text is canonical_text (quotes.quote_id).",
        ),
        _field("n_quotes", pa.int32(), "Number of quotations of the claim (rows in quotes)."),
        _field("n_articles", pa.int32(), "Number of distinct articles quoting it."),
        _field(
            "n_sources",
            pa.int32(),
            "Number of distinct newspapers (articles.source) carrying it; an article whose "
            "source is unknown counts as a source of its own.",
        ),
        _field(
            "sources",
            pa.list_(pa.field("item", pa.string(), nullable=False)),
            "The known newspapers carrying it, sorted (articles without a source are left out).",
        ),
        _field(
            "first_seen",
            pa.date32(),
            "Earliest published_date of its quotations; null when none is dated.",
            nullable=True,
        ),
        _field(
            "last_seen",
            pa.date32(),
            "Latest published_date of its quotations; null when none is dated.",
            nullable=True,
        ),
        _field(
            "quote_ids",
            pa.list_(pa.field("item", pa.string(), nullable=False)),
            "The quotations of the claim (quotes.quote_id), sorted; what keeps ids stable "
            "across runs.",
        ),
    ]
)

# --- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimParams:
    """Knobs of the clustering; the defaults were tuned on the seeds and the SaudiNewsNet dev
    corpus (July-August 2015, 14 papers)."""

    num_perm: int = 128  # MinHash permutations = bands * rows
    bands: int = 32
    rows: int = 4  # a pair at Jaccard 0.5 shares a bucket with p=0.87, at 0.3 with p=0.23
    seed: int = 20151001  # permutations are drawn from this seed: signatures are reproducible
    window: int = 8  # long quotations are also signed per window of this many content words
    window_step: int = 4
    window_min: int = 12  # ... when they have more content words than this
    neighbours: int = 32  # in a crowded bucket, pair each member with this many next ones
    min_content: int = 3  # fewer content words: joins only an exact (normalised) copy
    paraphrase_ratio: float = 0.5  # size ratio from which two texts are compared as peers
    paraphrase_containment: float = 0.7
    containment_ratio: float = 0.25  # below this size ratio, never join
    containment: float = 0.8  # the short one's words found in the long one ...
    containment_bigrams: float = 0.5  # ... largely in the same order
    negation_equal_ratio: float = 0.8  # texts this close in size must agree on negation


DEFAULT_PARAMS = ClaimParams()

# --- normalisation -------------------------------------------------------------------------

_NON_WORD = re.compile(r"\W+")
_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Spelling variants of the press, after normalise(): "الأميركية" and "الأمريكية";
# "سورية" (-> سوريه) and "سوريا"; a stray hamza "الموءتمر" for "المؤتمر".
_SPELLING = (("اميرك", "امريك"), ("ء", ""))
_TOKEN_SPELLING = {"سوريه": "سوريا", "بسوريه": "بسوريا", "لسوريه": "لسوريا"}
# Proclitic conjunction/preposition before the article: "والأمريكيين", "بالأزمة" -> "ال...".
_CLITIC_ARTICLE = ("وال", "فال", "بال", "كال")
# Function words that carry no claim: prepositions, complementizers, pronouns, auxiliaries
# (normalised spellings: على -> علي, إلى -> الي).
STOP_WORDS = frozenset((
    "في", "من", "الي", "علي", "عن", "ان", "انه", "انها", "انهم", "ما", "ماذا", "هذا", "هذه",
    "هذان", "هاتين", "ذلك", "تلك", "هناك", "هنا", "التي", "الذي", "الذين", "اللذين", "اللتين",
    "مع", "بين", "كان", "كانت", "يكون", "تكون", "قد", "لقد", "هو", "هي", "هم", "هما", "نحن",
    "انا", "او", "ام", "ثم", "حتي", "عند", "كل", "بعد", "قبل", "حول", "ايضا", "و", "ف", "ب",
    "ل", "ك", "تم", "اي", "لكن", "بل", "اذا", "منذ", "خلال", "عبر", "كما", "مثل", "عليه",
    "عليها", "فيه", "فيها", "منه", "منها", "له", "لها", "لهم", "به", "بها", "انما", "سوف",
))  # fmt: skip
# Negation particles: a statement and its negation are different claims
# ("روسيا لن تشارك" vs "روسيا ستشارك"). They stay content words too.
NEGATORS = frozenset(("لا", "لن", "لم", "ليس", "ليست", "لسنا", "لستم", "غير", "عدم"))


def claim_tokens(text: str) -> list[str]:
    """Normalised words of a text, in order, as the clustering compares them."""
    text = normalise(text).translate(_EASTERN_DIGITS)
    for old, new in _SPELLING:
        text = text.replace(old, new)
    tokens = []
    for token in _NON_WORD.split(text):
        if not token or token == "_":
            continue
        if len(token) > 4 and token.startswith(_CLITIC_ARTICLE):
            token = token[1:]
        elif len(token) > 3 and token.startswith("لل"):
            token = "ال" + token[2:]  # "للأزمة" = لِـ + الأزمة
        tokens.append(_TOKEN_SPELLING.get(token, token))
    return tokens


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What :func:`same_statement` compares: content words (a set, and in order), all words
    in order (for word pairs), negators."""

    content: frozenset[str]
    content_sequence: tuple[str, ...]
    tokens: tuple[str, ...]
    negators: frozenset[str]

    def bigrams(self) -> set[tuple[str, str]]:
        return set(itertools.pairwise(self.tokens))


def text_features(tokens: Sequence[str]) -> TextFeatures:
    content = tuple(t for t in tokens if t not in STOP_WORDS)
    return TextFeatures(
        content=frozenset(content),
        content_sequence=content,
        tokens=tuple(tokens),
        negators=NEGATORS.intersection(tokens),
    )


def same_statement(a: TextFeatures, b: TextFeatures, params: ClaimParams = DEFAULT_PARAMS) -> bool:
    """Whether two quotations of one speaker report the same statement.

    Peers (content sizes within ``paraphrase_ratio``) join when most of the shorter one's
    content words are in the longer one: "على جميع الأطراف السورية أن تجلس على/إلى طاولة
    الحوار". A short report inside a long one ("هناك تغيرا في المواقف الأمريكية بشأن رحيل
    الأسد" inside the same sentence with "علما أن ...") must also keep its word order; much
    shorter texts never join, or one long quotation would chain unrelated short ones.
    """
    small, large = (a, b) if len(a.content) <= len(b.content) else (b, a)
    n_small, n_large = len(small.content), len(large.content)
    if n_small < params.min_content:
        return False  # too little to tell; exact copies were grouped before this
    ratio = n_small / n_large
    if ratio < params.containment_ratio:
        return False
    if not small.negators <= large.negators:
        return False
    if ratio >= params.negation_equal_ratio and small.negators != large.negators:
        return False
    containment = len(small.content & large.content) / n_small
    if ratio >= params.paraphrase_ratio:
        return containment >= params.paraphrase_containment
    if containment < params.containment:
        return False
    small_bigrams = small.bigrams()
    shared = len(small_bigrams & large.bigrams()) / max(len(small_bigrams), 1)
    return shared >= params.containment_bigrams


# --- MinHash and LSH -----------------------------------------------------------------------

_SHIFT = np.uint64(32)


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def _permutations(params: ClaimParams) -> tuple[np.ndarray, np.ndarray]:
    if params.bands * params.rows != params.num_perm:
        raise ValueError(f"bands * rows must equal num_perm: {params}")
    rng = np.random.default_rng(params.seed)
    a = rng.integers(1, np.iinfo(np.uint64).max, size=params.num_perm, dtype=np.uint64)
    b = rng.integers(0, np.iinfo(np.uint64).max, size=params.num_perm, dtype=np.uint64)
    return a | np.uint64(1), b


def minhash_signatures(
    probes: Sequence[Sequence[int]], params: ClaimParams = DEFAULT_PARAMS
) -> np.ndarray:
    """One MinHash signature (``num_perm`` uint64 values < 2**32) per non-empty set of
    64-bit feature hashes; permutations are multiply-shift hashes from a fixed seed."""
    if any(len(p) == 0 for p in probes):
        raise ValueError("every probe needs at least one feature")
    sizes = np.fromiter((len(p) for p in probes), dtype=np.int64, count=len(probes))
    signatures = np.empty((len(probes), params.num_perm), dtype=np.uint64)
    if not len(probes):
        return signatures
    values = np.fromiter((h for p in probes for h in p), dtype=np.uint64, count=int(sizes.sum()))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    a, b = _permutations(params)
    with np.errstate(over="ignore"):
        for k in range(params.num_perm):
            hashed = (values * a[k] + b[k]) >> _SHIFT
            signatures[:, k] = np.minimum.reduceat(hashed, starts)
    return signatures


def _band_keys(signatures: np.ndarray, blocks: np.ndarray, params: ClaimParams) -> np.ndarray:
    """(bands, n) uint64 bucket keys: each band's rows folded together with the block."""
    mult = np.uint64(0x9E3779B97F4A7C15)
    keys = np.empty((params.bands, len(signatures)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(params.bands):
            key = blocks.astype(np.uint64) + np.uint64(band + 1)
            for col in range(band * params.rows, (band + 1) * params.rows):
                key = key * mult + signatures[:, col]
            keys[band] = key
    return keys


def band_pairs(
    band_keys: np.ndarray, probe_owner: np.ndarray, neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
    """Owner pairs ``(left, right)``, ``left < right``, whose probes share a bucket of one band.

    Probes are sorted by (bucket, owner) and each is paired with the next ``neighbours``
    probes of its bucket: all pairs in a bucket up to that size, and a chain through a
    bucket of thousands of near-copies instead of millions of pairs.
    """
    order = np.lexsort((probe_owner, band_keys))
    sorted_keys, owners = band_keys[order], probe_owner[order]
    lefts, rights = [], []
    for distance in range(1, neighbours + 1):
        same = sorted_keys[distance:] == sorted_keys[:-distance]
        if not same.any():
            break
        left, right = owners[:-distance][same], owners[distance:][same]
        lefts.append(np.minimum(left, right))
        rights.append(np.maximum(left, right))
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def roots(self) -> np.ndarray:
        """The root of every element, vectorised (for filtering candidate pairs)."""
        parent = np.array(self.parent, dtype=np.int64)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent = grand

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


# --- clustering ----------------------------------------------------------------------------


def cluster_quotes(
    texts: Sequence[str],
    blocks: Sequence[str | None],
    order_keys: Sequence[str],
    params: ClaimParams = DEFAULT_PARAMS,
) -> list[int]:
    """A cluster number per row (-1 where ``blocks`` is None): rows of one block whose texts
    report the same statement share a number.

    ``order_keys`` (quote ids) fix which group comes first in a bucket, so the result does
    not depend on row order. Cluster numbers are arbitrary; ids come from the members.
    """
    # 1. Exact copies (same block, same normalised words) are one group.
    row_group, group_tokens, group_block, group_first = _exact_groups(texts, blocks, order_keys)
    n_groups = len(group_tokens)
    if n_groups == 0:
        return row_group

    # Renumber groups by their smallest quote id: bucket order is then content-defined.
    rank = sorted(range(n_groups), key=group_first.__getitem__)
    renumber = np.empty(n_groups, dtype=np.int64)
    renumber[rank] = np.arange(n_groups)
    features = [text_features(group_tokens[g]) for g in rank]
    block_codes = {b: i for i, b in enumerate(sorted(set(group_block)))}
    owner_block = np.array([block_codes[group_block[g]] for g in rank], dtype=np.int64)

    # 2. Probes: the content words of each group, and windows of long ones.
    probe_sets, probe_owner = _probes(features, params)
    # 3. Candidate pairs from shared buckets, joined when they report the same statement.
    union = _join_similar(features, owner_block, probe_sets, probe_owner, params)
    return [-1 if g < 0 else union.find(int(renumber[g])) for g in row_group]


def _exact_groups(
    texts: Sequence[str], blocks: Sequence[str | None], order_keys: Sequence[str]
) -> tuple[list[int], list[list[str]], list[str], list[str]]:
    """A group per distinct (block, normalised words): each row's group (-1 without a
    block), and each group's words, block and smallest order key."""
    group_of_key: dict[tuple[str, tuple[str, ...]], int] = {}
    row_group = [-1] * len(texts)
    group_tokens: list[list[str]] = []
    group_block: list[str] = []
    group_first: list[str] = []
    for row, (text, block) in enumerate(zip(texts, blocks, strict=True)):
        if block is None:
            continue
        tokens = claim_tokens(text)
        key = (block, tuple(tokens))
        group = group_of_key.get(key)
        if group is None:
            group = group_of_key[key] = len(group_tokens)
            group_tokens.append(tokens)
            group_block.append(block)
            group_first.append(order_keys[row])
        elif order_keys[row] < group_first[group]:
            group_first[group] = order_keys[row]
        row_group[row] = group
    return row_group, group_tokens, group_block, group_first


def _probes(
    features: Sequence[TextFeatures], params: ClaimParams
) -> tuple[list[list[int]], list[int]]:
    """The hashed word sets to MinHash and the group each comes from: a group's content
    words, and windows of its content sequence when it is long."""
    vocabulary: dict[str, int] = {}

    def hashes(words: Iterable[str]) -> list[int]:
        out = []
        for w in set(words):
            h = vocabulary.get(w)
            if h is None:
                h = vocabulary[w] = _token_hash(w)
            out.append(h)
        return out

    probe_sets: list[list[int]] = []
    probe_owner: list[int] = []
    for owner, f in enumerate(features):
        if len(f.content) < params.min_content:
            continue
        probe_sets.append(hashes(f.content))
        probe_owner.append(owner)
        sequence = f.content_sequence
        if len(sequence) > params.window_min:
            last = len(sequence) - params.window
            for start in [*range(0, last, params.window_step), last]:
                probe_sets.append(hashes(sequence[start : start + params.window]))
                probe_owner.append(owner)
    return probe_sets, probe_owner


def _join_similar(
    features: Sequence[TextFeatures],
    owner_block: np.ndarray,
    probe_sets: list[list[int]],
    probe_owner: list[int],
    params: ClaimParams,
) -> _UnionFind:
    """Groups joined band by band from the pairs sharing a bucket; a pair already in one
    cluster is not verified again, so a claim carried a thousand times costs ~ a thousand
    checks."""
    n_groups = len(features)
    union = _UnionFind(n_groups)
    if len(probe_sets) > 1:
        owners = np.array(probe_owner, dtype=np.int64)
        sizes = np.array([len(f.content) for f in features], dtype=np.float64)
        signatures = minhash_signatures(probe_sets, params)
        keys = _band_keys(signatures, owner_block[owners], params)
        for band in keys:
            left, right = band_pairs(band, owners, params.neighbours)
            roots = union.roots()
            # Pairs already joined, or too different in size to join (same_statement's
            # first tests, vectorised), are not looked at.
            small = np.minimum(sizes[left], sizes[right])
            open_ = (roots[left] != roots[right]) & (
                small >= params.containment_ratio * np.maximum(sizes[left], sizes[right])
            )
            codes = np.unique(left[open_] * n_groups + right[open_])
            for i, j in zip((codes // n_groups).tolist(), (codes % n_groups).tolist(), strict=True):
                if union.find(i) != union.find(j) and same_statement(
                    features[i], features[j], params
                ):
                    union.union(i, j)
    return union


# --- claims --------------------------------------------------------------------------------


def claim_id_for(quote_id: str) -> str:
    """The id a claim anchored at ``quote_id`` gets when no earlier claim passes one on."""
    return hashlib.sha1(f"claim|{quote_id}".encode()).hexdigest()[:16]


def _previous_assignment(previous_claims: pa.Table | None) -> dict[str, str]:
    """quote_id -> claim_id from the previous run's claims (or quotes) table."""
    if previous_claims is None or previous_claims.num_rows == 0:
        return {}
    names = set(previous_claims.column_names)
    if {"claim_id", "quote_ids"} <= names:
        rows = previous_claims.select(["claim_id", "quote_ids"]).to_pydict()
        return {
            q: c
            for c, ids in zip(rows["claim_id"], rows["quote_ids"], strict=True)
            for q in ids or ()
        }
    if {"claim_id", "quote_id"} <= names:
        rows = previous_claims.select(["quote_id", "claim_id"]).to_pydict()
        return {
            q: c for q, c in zip(rows["quote_id"], rows["claim_id"], strict=True) if c is not None
        }
    raise ValueError(
        "previous_claims needs claim_id and quote_ids (a claims table) or claim_id and "
        f"quote_id (a quotes table); it has {sorted(names)}"
    )


def _name_clusters(
    members: Mapping[int, list[int]],
    anchor_order: Sequence[tuple[Any, ...]],
    quote_ids: Sequence[str],
    previous: Mapping[str, str],
) -> dict[int, str]:
    """A claim id per cluster: a previous claim's id where its quotations went, else the
    hash of the cluster's anchor (earliest member)."""
    votes: list[tuple[int, str, str, int]] = []  # (-members held, previous id, anchor, cluster)
    anchors = {c: min(rows, key=anchor_order.__getitem__) for c, rows in members.items()}
    for cluster, rows in members.items():
        held = Counter(previous[quote_ids[r]] for r in rows if quote_ids[r] in previous)
        for old_id, count in held.items():
            votes.append((-count, old_id, quote_ids[anchors[cluster]], cluster))
    names: dict[int, str] = {}
    taken: set[str] = set()
    # Most members first: a claim that split keeps its id where most of it went; a merge
    # keeps the id of the claim it holds most of (ties: the smaller id).
    for _, old_id, _, cluster in sorted(votes):
        if cluster not in names and old_id not in taken:
            names[cluster] = old_id
            taken.add(old_id)
    fresh = sorted((c for c in members if c not in names), key=lambda c: anchor_order[anchors[c]])
    for cluster in fresh:
        ordered = sorted(members[cluster], key=anchor_order.__getitem__)
        candidates = [claim_id_for(quote_ids[r]) for r in ordered]
        name = next((c for c in candidates if c not in taken), None)
        if name is None:  # every member's hash is taken by a split-off claim: derive anew
            name = claim_id_for("|".join(quote_ids[r] for r in ordered))
        names[cluster] = name
        taken.add(name)
    return names


def _article_sources(articles: pa.Table | None) -> dict[str, str | None]:
    if articles is None or articles.num_rows == 0:
        return {}
    rows = articles.select(["article_id", "source"]).to_pydict()
    return dict(zip(rows["article_id"], rows["source"], strict=True))


def _empty_claims() -> pa.Table:
    return CLAIMS_SCHEMA.empty_table()


def assign_claims(
    quotes: pa.Table,
    articles: pa.Table | None,
    previous_claims: pa.Table | None = None,
    params: ClaimParams = DEFAULT_PARAMS,
) -> tuple[pa.Table, pa.Array]:
    """The ``claims`` table and the claim id of each ``quotes`` row (aligned, null where the
    speaker is null).

    ``quotes`` and ``articles`` are tables in ``tabulate.SCHEMAS`` (extra columns are ignored);
    ``previous_claims`` is the previous run's claims table (or any table with ``quote_id``
    and ``claim_id``): its ids are kept for clusters holding its quotations.
    """
    columns = quotes.select(["quote_id", "article_id", "speaker_id", "quote_text",
                             "published_date"]).to_pydict()  # fmt: skip
    quote_ids: list[str] = columns["quote_id"]
    tracked = set(speaker_ids())
    speakers: list[str | None] = [s if s in tracked else None for s in columns["speaker_id"]]
    clusters = cluster_quotes(columns["quote_text"], speakers, quote_ids, params)

    members: dict[int, list[int]] = defaultdict(list)
    for row, cluster in enumerate(clusters):
        if cluster >= 0:
            members[cluster].append(row)
    if not members:
        return _empty_claims(), pa.nulls(quotes.num_rows, pa.string())

    dates = columns["published_date"]
    # Earliest first: dated before undated, then by quote id (content hash, stable).
    anchor_order = [(d is None, d or 0, q) for d, q in zip(dates, quote_ids, strict=True)]
    names = _name_clusters(members, anchor_order, quote_ids, _previous_assignment(previous_claims))

    sources = _article_sources(articles)
    texts = columns["quote_text"]
    article_ids = columns["article_id"]
    rows: dict[str, list[Any]] = {f.name: [] for f in CLAIMS_SCHEMA}
    for cluster, member_rows in members.items():
        canonical = min(
            member_rows,
            key=lambda r: (-len(texts[r].split()), -len(texts[r]), anchor_order[r]),
        )
        member_articles = {article_ids[r] for r in member_rows}
        known = {sources.get(a) for a in member_articles} - {None}
        unknown = sum(1 for a in member_articles if sources.get(a) is None)
        seen = [dates[r] for r in member_rows if dates[r] is not None]
        rows["claim_id"].append(names[cluster])
        rows["speaker_id"].append(speakers[member_rows[0]])
        rows["canonical_text"].append(texts[canonical])
        rows["canonical_quote_id"].append(quote_ids[canonical])
        rows["n_quotes"].append(len(member_rows))
        rows["n_articles"].append(len(member_articles))
        rows["n_sources"].append(len(known) + unknown)
        rows["sources"].append(sorted(known))
        rows["first_seen"].append(min(seen) if seen else None)
        rows["last_seen"].append(max(seen) if seen else None)
        rows["quote_ids"].append(sorted(quote_ids[r] for r in member_rows))
    claims = pa.table(
        {f.name: pa.array(rows[f.name], type=f.type) for f in CLAIMS_SCHEMA}, schema=CLAIMS_SCHEMA
    )
    speaker_rank = {s: i for i, s in enumerate(speaker_ids())}
    order = sorted(
        range(claims.num_rows),
        key=lambda i: (
            speaker_rank[rows["speaker_id"][i]],
            -rows["n_sources"][i],
            -rows["n_quotes"][i],
            rows["claim_id"][i],
        ),
    )
    claims = claims.take(pa.array(order, type=pa.int64()))
    claim_ids = pa.array([names[c] if c >= 0 else None for c in clusters], type=CLAIM_ID_FIELD.type)
    return claims, claim_ids


def add_claim_ids(quotes: pa.Table, claim_ids: pa.Array) -> pa.Table:
    """``quotes`` with its ``claim_id`` column set (replaced if present, appended if not)."""
    if len(claim_ids) != quotes.num_rows:
        raise ValueError(f"{len(claim_ids)} claim ids for {quotes.num_rows} quotes")
    index = quotes.schema.get_field_index(CLAIM_ID_FIELD.name)
    if index >= 0:
        return quotes.set_column(index, CLAIM_ID_FIELD, claim_ids)
    return quotes.append_column(CLAIM_ID_FIELD, claim_ids)


def attach_claims(
    tables: Mapping[str, pa.Table],
    previous_claims: pa.Table | None = None,
    params: ClaimParams = DEFAULT_PARAMS,
) -> dict[str, pa.Table]:
    """The run's tables with ``quotes.claim_id`` filled and a ``claims`` table added (after
    ``quotes``), for the flow to call once on the merged tables."""
    claims, claim_ids = assign_claims(
        tables["quotes"], tables.get("articles"), previous_claims, params
    )
    out: dict[str, pa.Table] = {}
    for name, table in tables.items():
        if name == TABLE_NAME:
            continue
        out[name] = add_claim_ids(table, claim_ids) if name == "quotes" else table
        if name == "quotes":
            out[TABLE_NAME] = claims
    return out
