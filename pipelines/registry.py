"""Checking and showing a speaker registry (``isnad registry check FILE`` / ``show``).

A registry is one JSON file (``lexicons/registries/default.json`` is the default; see
``lexicons/registries/README.md`` for the format): the speakers isnad attributes to, each
with a Wikidata QID, names in Arabic and English, surnames with their spelling variants, weak
surnames and first names; and the offices they held, each with every holder the registry
knows and their tenures, tracked or not, so a role on a date resolves to its holder.
:func:`check_registry` finds what would make attribution wrong or ambiguous; the speakers
module refuses a registry with an error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from pipelines.clean import fold

FORMAT = "isnad-registry/1"
_SPEAKER_ID = re.compile(r"[a-z][a-z0-9_]*")
_QID = re.compile(r"Q[1-9][0-9]*")
_SPEAKER_KEYS = {"speaker_id", "qid", "name_en", "name_ar", "surnames", "weak_surnames",
                 "first_names"}  # fmt: skip
_HOLDER_KEYS = {"speaker_id", "name_en", "name_ar", "qid", "start", "end"}


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # "speakers[2] (hagel)", "offices[0] fm/us"
    message_text: str
    error: bool = True  # False: a warning, the registry is still usable

    @property
    def message(self) -> str:
        return f"{self.where}: {self.message_text}"

    def __str__(self) -> str:
        return ("error: " if self.error else "warning: ") + self.message


@lru_cache(maxsize=4)
def lexicon(name: str) -> dict[str, Any]:
    """A JSON lexicon of ``pipelines/lexicons``, read once: the one loader of ``mentions.json``
    and ``countries.json`` for the check and for ``speakers`` (this module imports no stage:
    ``speakers`` imports it)."""
    text = resources.files("pipelines.lexicons").joinpath(name).read_text("utf-8")
    return json.loads(text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if not k.startswith("_"):
                yield k
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Folded words a name variant must not be (it would match ordinary text): every word
    of the cue, grammar and mention lexicons, and ``lexicons/common_words.txt``."""
    words: set[str] = set()
    for name in ("cues.json", "grammar.json", "mentions.json"):
        for s in _strings(lexicon(name)):
            words.update(fold(w) for w in s.split() if w.isalpha() and len(w) > 1)
    text = resources.files("pipelines.lexicons").joinpath("common_words.txt").read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(fold(line))
    return frozenset(words)


def _known_roles() -> set[str]:
    return set(lexicon("mentions.json")["role_words"])


def _known_countries() -> set[str]:
    return set(lexicon("countries.json")["countries"])


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _word_list(entry: dict, key: str, where: str, required: bool) -> Iterator[Problem]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        yield Problem(where, f"'{key}' must be a list of non-empty strings")
    elif required and not value:
        yield Problem(where, f"'{key}' must name at least one form")


def _check_speaker(i: int, sp: Any, seen: set[str]) -> Iterator[Problem]:
    if not isinstance(sp, dict):
        yield Problem(f"speakers[{i}]", "each speaker must be a JSON object")
        return
    sid = sp.get("speaker_id")
    where = f"speakers[{i}] ({sid})"
    if not isinstance(sid, str) or not _SPEAKER_ID.fullmatch(sid):
        yield Problem(where, "speaker_id must be lower-case ASCII letters, digits, _ ('lavrov')")
    elif sid in seen:
        yield Problem(where, f"speaker_id '{sid}' appears twice")
    seen.add(str(sid))
    for key in ("name_en", "name_ar"):
        if not isinstance(sp.get(key), str) or not sp[key].strip():
            yield Problem(where, f"'{key}' is required (a non-empty string)")
    qid = sp.get("qid")
    if qid is not None and not (isinstance(qid, str) and _QID.fullmatch(qid)):
        yield Problem(where, f"qid {qid!r} is not a Wikidata id like 'Q22316' (or null)")
    yield from _word_list(sp, "surnames", where, required=True)
    yield from _word_list(sp, "weak_surnames", where, required=False)
    yield from _word_list(sp, "first_names", where, required=False)
    unknown = set(sp) - _SPEAKER_KEYS
    if unknown:
        yield Problem(where, f"unknown key(s) {sorted(unknown)}", error=False)


def _check_holder(where: str, h: Any, speakers: set[str]) -> Iterator[Problem]:
    if not isinstance(h, dict):
        yield Problem(where, "each holder must be a JSON object")
        return
    sid = h.get("speaker_id")
    if sid is not None and sid not in speakers:
        yield Problem(where, f"speaker_id '{sid}' is not one of the registry's speakers")
    if sid is None and not (isinstance(h.get("name_en"), str) and h["name_en"].strip()):
        yield Problem(where, "a holder who is not a speaker needs 'name_en'")
    if sid is None and not h.get("name_ar"):
        yield Problem(where, "no 'name_ar': speaker_mention will give the English name",
                      error=False)  # fmt: skip
    qid = h.get("qid")
    if qid is not None and not (isinstance(qid, str) and _QID.fullmatch(qid)):
        yield Problem(where, f"qid {qid!r} is not a Wikidata id like 'Q22316' (or null)")
    start, end = _date(h.get("start")), _date(h.get("end"))
    if start is None:
        yield Problem(where, f"start {h.get('start')!r} is not an ISO date (YYYY-MM-DD)")
    if h.get("end") is not None and end is None:
        yield Problem(where, f"end {h.get('end')!r} is not an ISO date or null")
    if start and end and end <= start:
        yield Problem(where, f"tenure ends ({end}) on or before it starts ({start})")
    unknown = set(h) - _HOLDER_KEYS
    if unknown:
        yield Problem(where, f"unknown key(s) {sorted(unknown)}", error=False)


def _holder_name(h: dict) -> str:
    return str(h.get("speaker_id") or h.get("name_en"))


def _check_office(i: int, office: Any, speakers: set[str]) -> Iterator[Problem]:
    if not isinstance(office, dict):
        yield Problem(f"offices[{i}]", "each office must be a JSON object")
        return
    role, country = office.get("role"), office.get("country")
    where = f"offices[{i}] {role}/{country}"
    if role not in _known_roles():
        yield Problem(where, f"role {role!r} is not one of {sorted(_known_roles())} "
                             "(lexicons/mentions.json role_words)")  # fmt: skip
    if country not in _known_countries():
        yield Problem(where, f"country {country!r} is not a code of lexicons/countries.json")
    holders = office.get("holders")
    if not isinstance(holders, list) or not holders:
        yield Problem(where, "'holders' must be a non-empty list")
        return
    for j, h in enumerate(holders):
        yield from _check_holder(f"{where} holders[{j}]", h, speakers)
    dated = sorted(
        ((_date(h.get("start")), _date(h.get("end")), _holder_name(h)) for h in holders
         if isinstance(h, dict) and _date(h.get("start"))),
        key=lambda x: x[0],  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    for (s1, e1, n1), (s2, _, n2) in itertools.pairwise(dated):
        if e1 is None or e1 > s2:  # type: ignore[operator]
            yield Problem(where, f"tenures overlap: {n1} ({s1} to {e1 or 'now'}) and {n2} "
                                 f"(from {s2}); one office has one holder on a date")  # fmt: skip


def _check_names(data: dict) -> Iterator[Problem]:
    """A surname shared by two speakers, and variants that are common words."""
    owner: dict[str, str] = {}
    common = common_words()
    for sp in data["speakers"]:
        sid = sp["speaker_id"]
        weak = {fold(w) for w in sp.get("weak_surnames", [])}
        for word in sp["surnames"] + sp.get("weak_surnames", []):
            key = fold(word)
            if owner.get(key, sid) != sid:
                yield Problem(f"speaker {sid}", f"surname '{word}' is also {owner[key]}'s: a "
                                                "mention could not tell them apart")  # fmt: skip
            owner[key] = sid
            if key in common and key not in weak:
                yield Problem(f"speaker {sid}", f"surname '{word}' is a common word: alone it "
                              "would match ordinary text; list it under weak_surnames")  # fmt: skip
        for word in sp.get("first_names", []):
            if fold(word) in common:
                yield Problem(f"speaker {sid}", f"first name '{word}' is a common word",
                              error=False)  # fmt: skip


def check_registry(data: Any) -> list[Problem]:
    """Every problem of a registry's content: errors (unusable) and warnings."""
    if not isinstance(data, dict):
        return [Problem("registry", "the file must hold a JSON object")]
    problems: list[Problem] = []
    if data.get("format") != FORMAT:
        problems.append(Problem("format", f"must be {FORMAT!r}, not {data.get('format')!r}"))
    speakers, offices = data.get("speakers"), data.get("offices")
    if not isinstance(speakers, list) or not speakers:
        problems.append(Problem("speakers", "must be a non-empty list"))
        speakers = []
    if not isinstance(offices, list):
        problems.append(Problem("offices", "must be a list"))
        offices = []
    seen: set[str] = set()
    for i, sp in enumerate(speakers):
        problems.extend(_check_speaker(i, sp, seen))
    speakers_ok = not any(p.error for p in problems)
    for i, office in enumerate(offices):
        problems.extend(_check_office(i, office, seen))
    if speakers_ok:
        problems.extend(_check_names(data))
    if any(p.error for p in problems):
        return problems
    held = {h.get("speaker_id") for o in offices for h in o["holders"]}
    for sp in speakers:
        if sp["speaker_id"] not in held:
            problems.append(Problem(f"speaker {sp['speaker_id']}", "holds no office: every "
                                    "speaker needs one, with its tenure"))  # fmt: skip
    return problems


def describe(registry: Any) -> str:
    """What ``isnad registry show`` prints: the registry in use, its speakers, its offices."""
    lines = [
        f"registry: {registry.path}",
        f"name: {registry.name or '-'}",
        f"registry_hash: {registry.digest}",
        f"speakers ({len(registry.speakers)}):",
    ]
    for sid, sp in registry.speakers.items():
        roles = ", ".join(
            f"{o.role}/{o.country} {o.start}..{o.end or 'now'}" for o in registry.speaker_roles(sid)
        )
        lines.append(f"  {sid:<12} {sp.get('qid') or '-':<10} {sp['name_en']} / {sp['name_ar']}")
        lines.append(f"  {'':<12} surnames: {'، '.join(sp['surnames'])}"
                     + (f"; weak: {'، '.join(sp['weak_surnames'])}"
                        if sp.get("weak_surnames") else ""))  # fmt: skip
        lines.append(f"  {'':<12} offices: {roles}")
    lines.append("offices:")
    keys = list(dict.fromkeys((o.role, o.country) for o in registry.offices))
    for role, country in keys:
        lines.append(f"  {role}/{country}:")
        held = sorted((o for o in registry.offices if (o.role, o.country) == (role, country)),
                      key=lambda o: o.start)  # fmt: skip
        for o in held:
            who = o.holder if o.tracked else f"({o.name_en}, not tracked)"
            lines.append(f"    {o.start} .. {o.end or 'now'!s:<10} {who}")
    return "\n".join(lines)
