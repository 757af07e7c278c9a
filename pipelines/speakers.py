"""The speaker registry (names, variants, offices with tenure dates) and mention finding.

Data lives in the registry in use (``lexicons/registries/default.json`` unless ``isnad run
--registry FILE`` names another; ``pipelines.registry`` checks it), ``lexicons/mentions.json``
and ``lexicons/countries.json``; this module only compiles it into patterns over the clean
(folded) text and answers "who held this office on this date". It also holds the cascade
test (:func:`may_mention_tracked`) that decides which
articles are worth detecting quotations in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.clean import fold
from pipelines.records import MentionKind
from pipelines.registry import check_registry, lexicon

K = MentionKind


# The registry in use: the speakers isnad attributes to and every holder of their offices.
# ``isnad run --registry FILE`` sets it (:func:`use_registry`), and the environment variable
# carries it to worker processes; the default is the one shipped with isnad.
REGISTRY_ENV = "ISNAD_REGISTRY"
DEFAULT_REGISTRY = "default.json"


def shipped_registry(name: str = DEFAULT_REGISTRY) -> str:
    """The path of a registry shipped in ``pipelines/lexicons/registries/``."""
    return str(Path(__file__).resolve().parent / "lexicons" / "registries" / name)


_active: str = os.environ.get(REGISTRY_ENV) or shipped_registry()


def use_registry(path: str | None) -> Registry:
    """Make the registry at ``path`` (None: the default) the one in use, in this process and
    in the worker processes it starts; it is read and checked now, so a bad file fails here."""
    global _active
    resolved = str(Path(path).expanduser().resolve()) if path else shipped_registry()
    registry = load_registry(resolved)
    _active = resolved
    os.environ[REGISTRY_ENV] = resolved
    return registry


def registry_in_use() -> str:
    """The path of the registry in use."""
    return _active


@dataclass(frozen=True, slots=True)
class Office:
    holder: str  # a speaker_id, or "other:<name_en>" for a holder the registry does not track
    role: str  # "fm" | "dm" (lexicons/mentions.json role_words)
    country: str  # a code of lexicons/countries.json
    start: dt.date
    end: dt.date | None  # exclusive; None: still in office
    name_en: str = ""
    name_ar: str = ""
    qid: str | None = None

    def held_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    @property
    def tracked(self) -> bool:
        return not self.holder.startswith("other:")


@dataclass(frozen=True, slots=True)
class Mention:
    """A reference to a person in the clean text. ``start`` excludes a clitic و/ف/ب/ل."""

    start: int
    end: int
    outer_start: int  # with the clitic
    kind: MentionKind
    speaker_id: str | None = None  # for name / weak_name
    role: str | None = None  # fm | dm
    country: str | None = None
    former: bool = False


@dataclass(frozen=True)
class Registry:
    speakers: dict[str, dict]  # speaker_id -> its entry, in registry order
    offices: tuple[Office, ...]  # tracked holders first (in speaker order), then the others
    path: str = ""
    digest: str = ""  # registry_hash: SHA-256 of the registry's canonical JSON
    name: str = ""

    @property
    def speaker_ids(self) -> tuple[str, ...]:
        return tuple(self.speakers)

    def office_on(self, role: str, country: str, day: dt.date) -> Office | None:
        """The tenure of (role, country) that covers ``day``, tracked holder or not."""
        for office in self.offices:
            if office.role == role and office.country == country and office.held_on(day):
                return office
        return None

    def office_holder(self, role: str, country: str, day: dt.date) -> str | None:
        """Who held (role, country) on ``day``: a speaker_id, "other", or None if unknown."""
        office = self.office_on(role, country, day)
        if office is None:
            return None
        return office.holder if office.tracked else "other"

    def tracked_holders(self, role: str | None, country: str) -> list[str]:
        """The tracked speakers who held an office of ``country`` (of ``role``, if given)."""
        return [
            o.holder
            for o in self.offices
            if o.country == country and (role is None or o.role == role) and o.tracked
        ]

    five_holders = tracked_holders  # the name it had when the five were code

    def speaker_roles(self, speaker_id: str) -> list[Office]:
        return [o for o in self.offices if o.holder == speaker_id]

    def in_tenure(self, speaker_id: str, day: dt.date | None) -> bool:
        if day is None:
            return True
        return any(o.held_on(day) for o in self.speaker_roles(speaker_id))

    def countries(self) -> frozenset[str]:
        """The countries whose offices a tracked speaker held."""
        return frozenset(o.country for o in self.offices if o.tracked)


def speaker_ids() -> tuple[str, ...]:
    """The speakers of the registry in use, in registry order."""
    return load_registry().speaker_ids


def _date(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def registry_digest(data: dict) -> str:
    """SHA-256 of a registry's content as canonical JSON (key order and layout do not count)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_registry_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RegistryError(f"registry {path} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"registry {path}: the file must hold a JSON object")
    return data


def speaker_country(speaker_id: str) -> str | None:
    """The country of a registry speaker's office ("ru" for Lavrov), or None."""
    offices = load_registry().speaker_roles(speaker_id)
    return offices[0].country if offices else None


def load_registry(path: str | None = None) -> Registry:
    """The registry at ``path`` (default: the one in use), checked (``registry.check``):
    a registry with an error raises :class:`RegistryError` naming every problem. Read once
    per path and process."""
    return _read_registry(path or _active)


@lru_cache(maxsize=8)
def _read_registry(path: str) -> Registry:
    data = read_registry_file(path)
    errors = [p.message for p in check_registry(data) if p.error]
    if errors:
        listed = "\n- ".join(errors)
        raise RegistryError(f"registry {path} has {len(errors)} error(s):\n- {listed}")
    speakers = {sp["speaker_id"]: sp for sp in data["speakers"]}
    order = {sid: i for i, sid in enumerate(speakers)}
    tracked: list[Office] = []
    others: list[Office] = []
    for office in data["offices"]:
        for h in office["holders"]:
            sid = h.get("speaker_id")
            sp = speakers.get(sid, h) if sid else h
            entry = Office(
                sid or "other:" + h["name_en"],
                office["role"],
                office["country"],
                dt.date.fromisoformat(h["start"]),
                _date(h.get("end")),
                sp.get("name_en", ""),
                sp.get("name_ar", ""),
                sp.get("qid"),
            )
            (tracked if sid else others).append(entry)
    tracked.sort(key=lambda o: (order[o.holder], o.start))
    return Registry(
        speakers=speakers,
        offices=tuple(tracked + others),
        path=path,
        digest=registry_digest(data),
        name=str(data.get("name", "")),
    )


class RegistryError(ValueError):
    """A registry that cannot be used: unreadable, or failing ``isnad registry check``."""


def _alt(words) -> str:
    return "|".join(sorted({re.escape(fold(w)) for w in words}, key=len, reverse=True))


@dataclass(frozen=True)
class MentionPatterns:
    name: re.Pattern[str]
    role: re.Pattern[str]
    dual_bind: re.Pattern[str]
    dual_next: re.Pattern[str]  # the next country of a dual or plural office: "والأمريكي"
    plural_office: re.Pattern[str]  # a dual or plural office word: "وزيرا الخارجية"، "وزراء خارجية"
    generic: re.Pattern[str]
    counterpart: re.Pattern[str]
    counterpart_words: frozenset[str]  # "نظيره" ...: with a preposition, an addressee
    latter: re.Pattern[str]
    person: re.Pattern[str]
    surname_to_speaker: dict[str, str]
    weak_surnames: frozenset[str]
    first_names: frozenset[str]
    nisba_country: dict[str, str]
    implied_country: dict[str, str]
    role_of_word: dict[str, str]
    prefilter: re.Pattern[str]


_B = r"(?<!\w)"  # word start
_E = r"(?!\w)"  # word end
_PRE = r"(?P<pre>[وفبل]?)"


def _name_words(reg: Registry) -> tuple[dict[str, str], set[str], set[str]]:
    """Folded: surname -> speaker_id (weak surnames included), the weak surnames, the first
    names of the registry's speakers."""
    surname_to_speaker: dict[str, str] = {}
    weak: set[str] = set()
    firsts: set[str] = set()
    for sid, sp in reg.speakers.items():
        for s in sp["surnames"] + sp.get("weak_surnames", []):
            surname_to_speaker[fold(s)] = sid
        weak.update(fold(s) for s in sp.get("weak_surnames", []))
        firsts.update(fold(f) for f in sp["first_names"])
    return surname_to_speaker, weak, firsts


def _role_words(lex: dict) -> dict[str, str]:
    """Folded office word (singular or dual) -> its role, "fm" or "dm"."""
    role_of_word = {fold(w): role for role, ws in lex["role_words"].items() for w in ws}
    role_of_word.update({fold(w): role for role, ws in lex["dual_role_words"].items() for w in ws})
    return role_of_word


def patterns() -> MentionPatterns:
    """The mention patterns of the registry in use (compiled once per registry)."""
    return _patterns(_active)


@lru_cache(maxsize=1)
def nisba_countries() -> dict[str, str]:
    """Nationality adjective or country name -> country code (``lexicons/countries.json``)."""
    data = lexicon("countries.json")["countries"]
    return {word: code for code, entry in data.items() for word in entry["words"]}


def _plural_patterns(lex: dict, nisba: str, honor: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The next country of a dual or plural office ("والأمريكي"، "وتركيا": a country the
    lexicon does not list is still one), and the dual or plural office words themselves."""
    dual_next = re.compile(r"\s*،?\s*(?P<o>و)(?P<m>(?P<nisba>" + nisba + r")|[^\W\d_]{3,})" + _E)
    plural_words = [fold(w) for ws in lex["dual_role_words"].values() for w in ws]
    plural_office = re.compile(r"(?:" + honor + r")(?:" + _alt(plural_words) + r")" + _E)
    return dual_next, plural_office


@lru_cache(maxsize=8)
def _patterns(path: str) -> MentionPatterns:
    lex = lexicon("mentions.json")
    surname_to_speaker, weak, firsts = _name_words(load_registry(path))
    nisbas = nisba_countries()
    nisba_country = {fold(k): v for k, v in nisbas.items()}
    nisba = r"(?:" + _alt(nisbas) + r"|ال\w+ي(?:ة)?)"
    role_of_word = _role_words(lex)
    former = r"(?:\s+(?P<former>" + _alt(lex["former"]) + "))?"
    honor = r"(?:(?:" + _alt(lex["honorifics"]) + r")\s+)?"
    relational = r"(?:(?:" + _alt(lex["relational"]) + r")\s+)?"  # "سلفه تشاك هاغل"
    name = re.compile(
        _B
        + _PRE
        + (r"(?P<m>" + relational + honor)
        + r"(?:(?P<first>"
        + _alt(firsts)
        + r")(?:\s+#?|_))?(?P<sur>"  # a web page may tag the name: "سيرغي #لافروف"، "#سيرغي_لافروف"
        + _alt(surname_to_speaker)
        + r"))"
        + _E
    )
    role = re.compile(
        _B
        + _PRE
        + r"(?P<m>"
        + honor
        + r"(?P<rw>"
        + _alt(role_of_word)
        + r")(?:\s+(?P<nisba>"
        + nisba
        + r"))?"
        + former
        + r")"
        + _E
    )
    dual_bind = re.compile(r"و(?P<nisba>" + nisba + r")")
    dual_next, plural_office = _plural_patterns(lex, nisba, honor)
    generic = re.compile(
        _B
        + _PRE
        + r"(?P<m>"
        + honor
        + r"(?:"
        + _alt(lex["generic_minister"])
        + r")(?:\s+(?P<nisba>"
        + nisba
        + r"))?)"
        + _E
    )
    counterpart = re.compile(
        _B + _PRE + r"(?P<m>" + _alt(lex["counterpart"]) + r"\s+(?P<nisba>" + nisba + r"))" + _E
    )
    latter = re.compile(_B + _PRE + r"(?P<m>" + _alt(lex["latter"]) + r")" + _E)
    person = re.compile(
        _B + _PRE + r"(?P<m>(?:" + _alt(lex["person_titles"]) + r")(?:\s+" + nisba + r")?)" + _E
    )
    # Every mention the cascade accepts (a name, an office incl. the dual, a counterpart)
    # holds one of these words, so the prefilter never rejects what the scan would accept.
    counterpart_words = frozenset(fold(w) for w in lex["counterpart"])
    scan_words = list(surname_to_speaker) + list(role_of_word) + sorted(counterpart_words)
    prefilter = re.compile(_prefilter(scan_words))
    return MentionPatterns(
        name=name,
        role=role,
        dual_bind=dual_bind,
        dual_next=dual_next,
        plural_office=plural_office,
        generic=generic,
        counterpart=counterpart,
        counterpart_words=counterpart_words,
        latter=latter,
        person=person,
        surname_to_speaker=surname_to_speaker,
        weak_surnames=frozenset(weak),
        first_names=frozenset(firsts),
        nisba_country=nisba_country,
        implied_country={fold(k): v for k, v in lex["implied_country"].items()},
        role_of_word=role_of_word,
        prefilter=prefilter,
    )


# Arabic letters from the most to the least frequent in news text (measured on SaudiNewsNet).
_LETTERS_BY_FREQUENCY = "اليمونتربعةدفهسقأكحجشطصإىخضزذثئغءظؤآ"


def _rarity(c: str) -> int:
    """Higher for rarer letters; letters not listed are rarest, non-letters most common."""
    if not c.isalpha():
        return -1
    i = _LETTERS_BY_FREQUENCY.find(c)
    return len(_LETTERS_BY_FREQUENCY) if i < 0 else i


def _prefilter(words: list[str]) -> str:
    """A literal pattern that rules out most texts before the mention scan runs.

    Names and offices are written with a plain alef, and only a word-final ya varies (ى);
    so each word is kept literally, with a class for a final ya only. Only whether the
    pattern matches is used, so each word is found from its rarest letter and checked whole
    by a look-behind: "لافروف" is written "فروف(?<=لافروف)". The regex engine skips at C speed
    to the next possible first letter of the pattern, and these letters (ف ز ظ ئ ...) are
    rare, where the words' own first letters (ا ل و ...) are the commonest (2x faster on the
    corpus, the same texts kept). The alternation is a trie (shared prefixes once), so at
    each stop the engine tries one branch per letter, not every word."""
    pieces = []
    for w in words:
        lit = [re.escape(c) for c in w]
        varies = w.endswith("ي")
        if varies:
            lit[-1] = "[يىی]"
        letters = range(len(w) - 1) if varies else range(len(w))  # the anchor is not a class
        anchor = max(letters, key=lambda i: _rarity(w[i]), default=0)
        pieces.append((*lit[anchor:], "(?<=" + "".join(lit) + ")"))
    return _trie(sorted(set(pieces)))


def _trie(words: list[tuple[str, ...]]) -> str:
    """A regex matching any of ``words`` (each a tuple of one-character regex items), with
    common prefixes factored out."""
    branches: dict[str, list[tuple[str, ...]]] = {}
    complete = False
    for w in words:
        if w:
            branches.setdefault(w[0], []).append(w[1:])
        else:
            complete = True
    parts = [head + _trie(rest) for head, rest in branches.items()]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    return f"(?:{body})?" if complete else body


def passes_prefilter(clean: str) -> bool:
    """First step of the cascade, over a clean (light or folded) text: does a surname of the
    five (weak ones included), an office word ("وزير الخارجية"، "وزير دفاع"، "وزيرا
    الخارجية" ...) or a counterpart word ("نظيره") occur at all, whatever the nationality?
    A literal search, cheap enough for every article; only texts it keeps are folded and
    scanned for mentions (:func:`may_mention_tracked`)."""
    return patterns().prefilter.search(clean) is not None


def tracked_countries() -> frozenset[str]:
    """The countries whose offices a speaker of the registry in use held (the default
    registry: ru, us, sy)."""
    return _tracked_countries(_active)


@lru_cache(maxsize=8)
def _tracked_countries(path: str) -> frozenset[str]:
    return load_registry(path).countries()


five_countries = tracked_countries  # the names they had when the five were code


def may_mention_tracked(*fields: str) -> bool:
    """The cascade test over the folded clean views of one article's fields (title, text):
    can the article hold a quotation by one of the registry's speakers (below: "the five",
    as in the default registry) at all?

    It can only if some field names one of the five (any variant, a weak name such as
    "المعلم" included), or holds an office or counterpart of one of :func:`tracked_countries`:
    "وزير الخارجية الروسي"، "وزيري الدفاع الروسي والأمريكي"، "نظيره الأمريكي"، "رئيس
    البنتاغون". Attribution resolves every other mention through one of these: an office
    without a nationality only to an office the article binds to a name; "الوزير"،
    "الوزير الروسي" and "الأخير" only to another mention that resolves; a weak name only
    where the article names the speaker; an office of another country ("وزير الخارجية
    السعودي") never. So an article the test rejects cannot get a quotation attributed to
    one of the five, and analysing it would only find quotations of other people.

    The literal prefilter runs first; only if it passes are the fields scanned, with the
    name, office and counterpart patterns of :func:`find_mentions` (every mention it keeps
    is one of their matches, so the scan accepts whatever those mentions would), tried only
    where a match can begin (:func:`_match_starts`). The test is per article: a mention in
    the title counts for the text and the other way round.
    """
    if not any(passes_prefilter(f) for f in fields):
        return False
    p = patterns()
    countries = tracked_countries()
    for f in fields:
        starts = _match_starts(f)
        if next(_matches_from(p.name, f, starts), None) is not None:
            return True
        if any(_role_country(p, m) in countries for m in _matches_from(p.role, f, starts)):
            return True
        counterparts = _matches_from(p.counterpart, f, starts)
        if any(_country(p, m.group("nisba")) in countries for m in counterparts):
            return True
    return False


def _start_words() -> re.Pattern[str]:
    """The words a name, office or counterpart match begins with, after its clitic: an
    honorific, a first name, a surname, an office word, a counterpart word (a trie, literal)."""
    return _start_words_of(_active)


@lru_cache(maxsize=8)
def _start_words_of(path: str) -> re.Pattern[str]:
    return _word_trie(path, ("honorifics", "relational", "counterpart"))


def _word_trie(path: str, lists: tuple[str, ...]) -> re.Pattern[str]:
    """A literal trie of the registry's surnames, first names and office words, and the words
    of these ``mentions.json`` lists."""
    p = _patterns(path)
    lex = lexicon("mentions.json")
    words = {*p.surname_to_speaker, *p.first_names, *p.role_of_word}
    words.update(fold(w) for key in lists for w in lex[key])
    return re.compile(_trie(sorted(tuple(map(re.escape, w)) for w in words)))


may_mention_five = may_mention_tracked


def _mention_start_words() -> re.Pattern[str]:
    """The words any mention pattern of :func:`find_mentions` begins with, after its clitic:
    :func:`_start_words`, and the generic minister, "the latter" and person-title words."""
    return _mention_start_words_of(_active)


@lru_cache(maxsize=8)
def _mention_start_words_of(path: str) -> re.Pattern[str]:
    lists = (
        "honorifics",
        "relational",
        "counterpart",
        "generic_minister",
        "latter",
        "person_titles",
    )
    return _word_trie(path, lists)


def _match_starts(text: str, start_words: re.Pattern[str] | None = None) -> list[int]:
    """Every place where a name, office or counterpart match (with ``start_words``: a match
    of a pattern that begins with one of them) can begin, in order (some twice): at a start
    word (:func:`_start_words`, overlapping ones included) or one clitic before."""
    find = (start_words or _start_words()).search
    starts: list[int] = []
    m = find(text)
    while m is not None:
        q = m.start()
        starts += (q - 1, q) if q else (q,)
        m = find(text, q + 1)
    return starts


def _matches_from(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match]:
    """``pattern.finditer(text)`` for a pattern whose matches are never empty and all begin at
    one of ``starts`` (in order): the same matches, but tried only there. The mention
    patterns have no literal prefix (they open with a look-behind), so the engine would try
    them at every character; start words are few, so the cascade scan is 3x cheaper."""
    end = 0
    for s in starts:
        if s >= end and (m := pattern.match(text, s)) is not None:
            yield m
            end = m.end()


def _country(p: MentionPatterns, nisba: str | None) -> str | None:
    if not nisba:
        return None
    return p.nisba_country.get(nisba, "xx")


def _role_country(p: MentionPatterns, m: re.Match[str]) -> str | None:
    """The country of an office match; None when the article does not say which."""
    rw = m.group("rw")
    # An explicit nationality wins: "وزير الخارجية والمغتربين اللبناني" is Lebanon's.
    country = _country(p, m.group("nisba")) or p.implied_country.get(rw)
    if country is None and not rw.split()[-1].startswith("ال"):
        # "وزير خارجية الفاتيكان": the construct state always names a country; unknown here.
        country = "xx"
    return country


def plural_next(text: str, first: Mention, pos: int, limit: int) -> Mention | None:
    """The next country of a dual or plural office opened by ``first``: at "والأمريكي" in
    "وزيرا الخارجية الروسي سيرغي لافروف والأمريكي جون كيري", or at "وتركيا" in "وزراء
    خارجية روسيا وتركيا وإيران": an office mention of the same role for that country."""
    p = patterns()
    if first.role is None or not p.plural_office.match(text, first.start):
        return None
    m = p.dual_next.match(text, pos, limit)
    if m is None:
        return None
    return Mention(
        m.start("m"),
        m.end("m"),
        m.start("o"),
        MentionKind.ROLE,
        role=first.role,
        country=_country(p, m.group("nisba")),
    )


def find_mentions(text: str) -> list[Mention]:
    """All person mentions in a clean text, longest first where they overlap, in text order.

    An office immediately followed by a name ("وزير الخارجية الروسي سيرغي لافروف") is one
    name mention that also carries the office, so the article binds that office to the name.
    """
    p = patterns()
    starts = _match_starts(text, _mention_start_words())
    found: list[Mention] = []
    for m in _matches_from(p.name, text, starts):
        sur = m.group("sur")
        sid = p.surname_to_speaker[sur]
        weak = sur in p.weak_surnames and not m.group("first")
        found.append(
            Mention(
                m.start("m"), m.end("m"), m.start(), K.WEAK_NAME if weak else K.NAME, speaker_id=sid
            )
        )
    for m in _matches_from(p.role, text, starts):
        found.append(
            Mention(
                m.start("m"),
                m.end("m"),
                m.start(),
                K.ROLE,
                role=p.role_of_word[m.group("rw")],
                country=_role_country(p, m),
                former=bool(m.group("former")),
            )
        )
    for kind, pat in ((K.GENERIC, p.generic), (K.COUNTERPART, p.counterpart)):
        for m in _matches_from(pat, text, starts):
            found.append(
                Mention(
                    m.start("m"), m.end("m"), m.start(), kind, country=_country(p, m.group("nisba"))
                )
            )
    for m in _matches_from(p.latter, text, starts):
        found.append(Mention(m.start("m"), m.end("m"), m.start(), K.LATTER))
    for m in _matches_from(p.person, text, starts):
        found.append(Mention(m.start("m"), m.end("m"), m.start(), K.PERSON))
    # Keep the longest of overlapping mentions, preferring names, then offices.
    rank = {
        K.NAME: 0,
        K.WEAK_NAME: 1,
        K.ROLE: 2,
        K.COUNTERPART: 3,
        K.GENERIC: 4,
        K.LATTER: 5,
        K.PERSON: 6,
    }
    found.sort(key=lambda x: (x.start, -(x.end - x.start), rank[x.kind]))
    kept: list[Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            prev = kept[-1]
            # A name inside a longer person/office match ("الرئيس ... "): the name wins.
            if mention.kind in (K.NAME, K.WEAK_NAME) and prev.kind in (K.PERSON, K.GENERIC):
                kept[-1] = mention
            continue
        kept.append(mention)
    return _merge_appositions(text, kept)


_APPOS_GAP = re.compile(r"\s*،?\s*")


def _merge_appositions(text: str, ms: list[Mention]) -> list[Mention]:
    """Office + name (or name + office) written side by side become one name mention."""
    out: list[Mention] = []
    i = 0
    while i < len(ms):
        cur = ms[i]
        nxt = ms[i + 1] if i + 1 < len(ms) else None
        if (
            nxt is not None
            and _APPOS_GAP.fullmatch(text[cur.end : nxt.outer_start])
            and nxt.outer_start == nxt.start
        ):
            office, name = (cur, nxt) if nxt.kind in (K.NAME, K.WEAK_NAME) else (nxt, cur)
            if office.kind in (K.ROLE, K.GENERIC, K.COUNTERPART, K.PERSON) and name.kind in (
                K.NAME,
                K.WEAK_NAME,
            ):
                out.append(
                    Mention(
                        cur.start,
                        nxt.end,
                        cur.outer_start,
                        K.NAME,
                        speaker_id=name.speaker_id,
                        role=office.role,
                        country=office.country,
                        former=office.former,
                    )
                )
                i += 2
                continue
        out.append(cur)
        i += 1
    return out


def bound_offices(text: str, mentions: list[Mention]) -> dict[tuple[str, str], str]:
    """Offices the article binds to one of the five by apposition, incl. the dual
    "وزيري الدفاع الروسي سيرغي شويغو والأمريكي تشاك هاغل"."""
    p = patterns()
    bound: dict[tuple[str, str], str] = {}
    for i, m in enumerate(mentions):
        # A name mention always carries its speaker_id; the test narrows the optional field.
        if m.kind == K.NAME and m.speaker_id and m.role and m.country and not m.former:
            bound.setdefault((m.role, m.country), m.speaker_id)
            # The second half of a dual office: "والأمريكي تشاك هاغل" right after the first name.
            nxt = mentions[i + 1] if i + 1 < len(mentions) else None
            if nxt is not None and nxt.kind == K.NAME and nxt.speaker_id and not nxt.role:
                gap = text[m.end : nxt.start]
                dm = p.dual_bind.fullmatch(gap.strip())
                if dm and len(gap) < 30:
                    country = p.nisba_country.get(dm.group("nisba"), "xx")  # the group is required
                    bound.setdefault((m.role, country), nxt.speaker_id)
    return bound
