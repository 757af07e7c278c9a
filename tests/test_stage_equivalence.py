"""The fast text stages give exactly what their plain forms give.

clean, furniture, segment and write were rewritten for speed (C-level string calls instead of
per-character Python, regexes the engine can scan quickly, a cheap test before the per-line
repeat loop). Plain forms are kept here as oracles (furniture's written apart from the code,
not copied: see its comment, and pinned by hand-written pages), and every output is compared
with theirs on generated text that is dense in the characters each shortcut is about:
marks, entities, diacritics, presentation forms, odd white space, characters outside cp1256,
repeated sentences, end marks next to quotation marks.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from operator import attrgetter
from pathlib import Path

import pytest
from camel_tools.utils.normalize import normalize_unicode
from helpers import analyse_articles
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines import clean, furniture, segment, tabulate
from pipelines.analyse import clean_article, segment_article
from pipelines.records import Article

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- oracles: the plain forms ----------------------------------------------------------------

_ENTITY = r"&(?:#[0-9]{2,6}|#[xX][0-9a-fA-F]{2,5}|[a-zA-Z]{2,8})[;؛]"
_SPECIAL_PLAIN = re.compile(
    _ENTITY + "|[" + re.escape("".join(sorted(clean.DELETIONS))) + "\ufb50-\ufdff\ufe70-\ufefe]"
)
_SENT_END_PLAIN = re.compile(
    r"(?<!\.)[.!?؟]+(?!\.)(?=\s)|(?<![.])[.!?؟](?=$)|(?<=[\u0621-\u064a]{2})\.(?=[\u0621-\u064a]{2})"
)


def plain_light(s: str) -> str:
    return clean._LIGHT_RE.sub(lambda m: clean.LIGHT[m.group()], s)


def plain_clean_text(raw: str, fold_letters: bool = True) -> tuple[str, tuple[int, ...] | None]:
    light = plain_light(raw)
    if not _SPECIAL_PLAIN.search(light):
        return (light.translate(clean.FOLDS) if fold_letters else light), None
    pieces: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _SPECIAL_PLAIN.finditer(light):
        i = m.start()
        if i > pos:
            pieces.append(light[pos:i])
            origin.extend(range(pos, i))
        ch = m.group()
        if len(ch) > 1:
            ref = ch[:-1] + ";"
            decoded = html.unescape(ref)
            if decoded != ref:
                rep = "".join(c for c in plain_light(decoded) if c not in clean.DELETIONS)
                pieces.append(rep)
                origin.extend([i] * len(rep))
            else:
                pieces.append(ch)
                origin.extend(range(i, m.end()))
        elif ch not in clean.DELETIONS:
            expanded = plain_light(normalize_unicode(ch))
            rep = "".join(c for c in expanded if c not in clean.DELETIONS)
            pieces.append(rep)
            origin.extend([i] * len(rep))
        pos = m.end()
    pieces.append(light[pos:])
    origin.extend(range(pos, len(light)))
    text = "".join(pieces)
    return (text.translate(clean.FOLDS) if fold_letters else text), tuple(origin)


def plain_lines(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group().strip()
        if line:
            a = m.start() + (len(m.group()) - len(m.group().lstrip()))
            out.append((a, a + len(line), line))
    return out


# The furniture oracle is written apart from pipelines/furniture.py, not copied from it: each
# pattern of furniture.json is compiled and tried on its own (furniture.py joins them into one
# alternation per category, and first asks one pattern over the whole text whether any line
# can match), every line is classified before any is grouped, and the words, sentences and
# short list rows are this file's own regexes. The oracle is pinned by hand-written pages
# (test_the_furniture_oracle_by_hand) so that it cannot drift along with the code.
_FURNITURE = json.loads((ROOT / "pipelines" / "lexicons" / "furniture.json").read_text("utf-8"))
_WORDS_PLAIN = re.compile(r"\w+")
_SENTENCE_GAP_PLAIN = re.compile(r"(?<=[.!?؟])\s+")


def _each(key: str) -> list[re.Pattern[str]]:
    """Each pattern of one category, matching every spelling variant of its letters."""
    return [
        re.compile(clean.fold_insensitive(clean.fold_pattern(p)), re.IGNORECASE)
        for p in _FURNITURE[key]
    ]


_COMMENT, _LIST, _CHROME = _each("comment_markers"), _each("list_markers"), _each("line_patterns")
_CURRENCY = re.compile(clean.fold_insensitive(clean.fold_pattern(_FURNITURE["currency_line"])))
_BULLET = re.compile(clean.fold_insensitive(clean.fold_pattern(_FURNITURE["bullet_line"])))


def plain_line_kind(line: str) -> str | None:
    """What a line is, the first category that matches winning: a comment marker, a list
    header, a currency row, another chrome line (a bulleted line too when it is as short as
    a list row), or article text (None)."""
    if any(p.search(line) for p in _COMMENT):
        return "comment"
    if any(p.search(line) for p in _LIST):
        return "list"
    if _CURRENCY.search(line):
        return "currency"
    if any(p.search(line) for p in _CHROME):
        return "chrome"
    if _BULLET.search(line) and plain_is_list_row(line):
        return "chrome"  # a bulleted link or teaser; a bulleted sentence is text
    return None


def plain_is_list_row(line: str) -> bool:
    """A row of a link list or table: at most 12 words, no sentence end mark followed by
    white space or ending the line."""
    ends = [i for i, c in enumerate(line) if c in ".!?؟"]
    return len(_WORDS_PLAIN.findall(line)) <= 12 and not any(
        i == len(line) - 1 or line[i + 1].isspace() for i in ends
    )


def plain_find_chrome(text: str) -> list[tuple[int, int, str]]:
    """Every line classified, then grouped: a comment marker in the page's last 60% drops the
    rest of the page (above, its line); a list header drops itself and the list rows after
    it; three or more lines of a currency row's shape in a row are a table; a chrome line
    drops itself."""
    lines = plain_lines(text)
    kinds = [plain_line_kind(line) for _, _, line in lines]
    drops: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        start, end, line = lines[i]
        kind = kinds[i]
        run = 1  # lines this verdict covers
        if kind == "comment" and start >= 0.4 * len(text):
            return [*drops, (start, len(text), "comments")]
        if kind == "list":
            while i + run < len(lines) and plain_is_list_row(lines[i + run][2]):
                run += 1
            reason = "currency_table" if "عملات" in line else "link_list"
            drops.append((start, lines[i + run - 1][1], reason))
        elif kind == "currency":
            while i + run < len(lines) and _CURRENCY.search(lines[i + run][2]):  # any kind
                run += 1
            if run >= 3:
                drops.append((start, lines[i + run - 1][1], "currency_table"))
            else:
                run = 1  # two rows are no table, and the next line is looked at on its own
        elif kind in ("comment", "chrome"):
            drops.append((start, end, "furniture_line"))
        i += run
    return drops


def plain_sentence_key(sentence: str) -> str | None:
    """A sentence's words, if it has five or more: the same words are the same sentence."""
    words = _WORDS_PLAIN.findall(sentence)
    return " ".join(words) if len(words) >= 5 else None


def plain_keys_of(line: str) -> list[str]:
    return [k for k in map(plain_sentence_key, _SENTENCE_GAP_PLAIN.split(line)) if k]


def plain_find_repeats(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """A line of 40 characters or more is a repeat when 70% of its sentences' characters
    (by key) are in sentences of kept lines before it."""
    seen: set[str] = set()
    drops: list[tuple[int, int, str]] = []
    for ks, ke in keep:
        for a, b, line in plain_lines(text[ks:ke]):
            keys = plain_keys_of(line)
            if not keys:
                continue
            repeated = sum(len(k) for k in keys if k in seen)
            if len(line) >= 40 and repeated >= 0.7 * sum(len(k) for k in keys):
                drops.append((ks + a, ks + b, "repeat"))
                continue
            seen.update(keys)
    return drops


def plain_sentence_keys(text: str, keep: list[tuple[int, int]]) -> list[str]:
    return [
        k for ks, ke in keep for _, _, line in plain_lines(text[ks:ke]) for k in plain_keys_of(line)
    ]


def plain_paragraphs(text: str, keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for ks, ke in keep:
        for m in re.finditer(r"[^\n]+", text[ks:ke]):
            a, b = ks + m.start(), ks + m.end()
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                out.append((a, b))
    return out


def plain_split_sentences(
    text: str, para: tuple[int, int], quotes: list[segment.QuoteSpan]
) -> list[tuple[int, int]]:
    a, b = para
    inside = segment.outer_quotes(quotes)
    cuts: list[int] = []
    for m in _SENT_END_PLAIN.finditer(text, a, b):
        if m.group().startswith("..") or text[m.start() : m.end()].count(".") >= 2:
            continue
        pos = m.end()
        if any(q.start < pos < q.end for q in inside):
            continue
        cuts.append(pos)
    out: list[tuple[int, int]] = []
    s = a
    for c in [*cuts, b]:
        while s < c and text[s].isspace():
            s += 1
        if c > s:
            out.append((s, c))
        s = c
    return out


def plain_segment_field(text: str, keep: list[tuple[int, int]]) -> list[segment.Unit]:
    units: list[segment.Unit] = []
    for p_index, para in enumerate(plain_paragraphs(text, keep)):
        quotes = segment.pair_quotes(text, *para)
        for s, e in plain_split_sentences(text, para, quotes):
            inner = tuple(q for q in quotes if q.start >= s and q.end <= e)
            units.append(segment.Unit(s, e, p_index, inner))
    return units


def plain_title_span(text: str) -> tuple[int, int] | None:
    a, b = 0, len(text)
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if b > a else None


def plain_columns(records, names):
    if not records:
        return [() for _ in names]
    if len(names) == 1:
        return [tuple(map(attrgetter(names[0]), records))]
    return list(zip(*map(attrgetter(*names), records), strict=True))


# --- generated text --------------------------------------------------------------------------

LETTERS = [chr(c) for c in range(0x0621, 0x064B)] + list("abcXYZ_")
WORD_CHARS_OUTSIDE_CP1256 = ["٠", "١", "٩", "ی", "ڤ", "é", "Ä", "ß", "漢"]
OTHER_OUTSIDE_CP1256 = ["●", "﴿", "﴾", "٪", "٬", "😀", "\u0653"]
MARKS = ["\u064b", "\u064e", "\u0651", "\u0652", "\u0670", "\u0640", "\u200f", "\ufeff", "\u00ad"]
FORMS = ["ﻟ", "ﺎ", "ﻻ", "ﷲ", "ﷺ", "\ufe70", "\ufefc"]
ENTITIES = ["&quot;", "&amp;", "&#8220;", "&#x201D;", "&copy", "&&quot;", "&xyz;", "&quot؛", "&"]
QUOTES = ['"', "“", "”", "«", "»", "‹", "›", "„"]
ENDS = [".", "..", "...", "!", "?", "؟", "?!", ".!", "!.", "؟.", "،", ",", ":", ";", "؛", "-"]
SPACES = [" ", " ", " ", "  ", "\n", "\n\n", " \n ", "\t", "\xa0", "\u2028", "\x1c", "\x85"]
SPACES += ["\u3000", "\r\n", "\x0b", "\u1680"]
WORDS = ["قال", "الوزير", "إن", "أن", "سوريا", "الحل", "سياسي", "واشنطن", "موسكو", "في", "على"]
FURNITURE = ["اكتب تعليقك", "التعليقات (3):", "أكثر الأخبار قراءة", "الدولار 3.75", "• رابط"]
FURNITURE += ["اقرأ أيضا", "شارك", "تويتر", "https://x.y/z", "المصدر: واس", "12:30", "Home page"]
FURNITURE += [
    "Leave a reply",
    "تعليقات القراء :",
    "الموضوع:",
    "أخبار ذات صلة",
    "- عنوان",
    "اليورو 4.2",
]
FURNITURE += ["\u00a0الدولار\u00a0 3.75 \t", "الين 0,5", "روابط", "الاسعار الرسمية للعملات", "Menu"]

char = st.one_of(
    st.sampled_from(LETTERS),
    st.sampled_from(WORD_CHARS_OUTSIDE_CP1256),
    st.sampled_from(OTHER_OUTSIDE_CP1256),
    st.sampled_from(MARKS),
    st.sampled_from(FORMS),
    st.sampled_from(ENTITIES),
    st.sampled_from(QUOTES),
    st.sampled_from(ENDS),
    st.sampled_from(SPACES),
)
word = st.one_of(st.sampled_from(WORDS), st.lists(char, min_size=1, max_size=6).map("".join))
sentence = st.tuples(
    st.sampled_from(["", '"', "«", "(", "- "]),
    st.lists(word, min_size=1, max_size=9).map(" ".join),
    st.sampled_from(["", '"', "»", ")", '."', "»."]),
    st.sampled_from([*ENDS, "", ""]),
).map("".join)
line = st.one_of(
    st.lists(sentence, min_size=1, max_size=4).map(" ".join),
    st.sampled_from(FURNITURE),
)


@st.composite
def page(draw: st.DrawFn) -> str:
    """Lines, some of them (or some of their sentences) repeated, with different spacing and
    punctuation around the same words."""
    lines = draw(st.lists(line, max_size=10))
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        src = draw(st.sampled_from(lines))
        if draw(st.booleans()):
            src = re.sub(r"[ ،,]", draw(st.sampled_from([" ", "  ", "، ", " - "])), src)
        lines.insert(draw(st.integers(0, len(lines))), src)
    for _ in range(draw(st.integers(0, 2))):  # a sentence of one line ends another
        if len(lines) < 2:
            break
        parts = re.split(r"(?<=[.!?؟])\s+", draw(st.sampled_from(lines)))
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] += draw(st.sampled_from([" ", ". ", "! "])) + draw(st.sampled_from(parts))
    seps = draw(st.lists(st.sampled_from(["\n", "\n\n", " \n", "\n \t"]), min_size=len(lines)))
    return "".join(x + s for x, s in zip(lines, seps, strict=False))


text = st.one_of(page(), st.lists(char, max_size=120).map("".join), st.text(max_size=200))

SHARED_SENTENCE = (
    "قال الوزير إن الحل في سوريا سياسي. وأضاف أن المحادثات مستمرة اليوم.\n"
    "وأكد الوزير أمس أن اللقاء كان مثمرا جدا. قال الوزير إن الحل في سوريا سياسي!"
)
REPEATED_BODY = (
    "قال الوزير إن الحل في سوريا سياسي وليس عسكريا. وأضاف أن المحادثات مستمرة.\n"
    "الحل في سوريا سياسي ولا شيء غيره، كما قال.\n"
    "قال الوزير: إن الحل في سوريا سياسي، وليس عسكريا! وأضاف أن المحادثات مستمرة.\n"
)


# --- tests -----------------------------------------------------------------------------------


@SETTINGS
@given(text)
@example(REPEATED_BODY)
@example("&&quot;x&quot؛ ﻻ \u0640ـ‹a›“b”")
def test_clean_text_is_the_plain_form(raw: str) -> None:
    for fold_letters in (False, True):
        view = clean.clean_text(raw, fold_letters=fold_letters)
        assert (view.text, view.origin) == plain_clean_text(raw, fold_letters)
        assert view.raw == raw
    light = clean.clean_text(raw, fold_letters=False)
    assert light.folded() == clean.clean_text(raw)


def test_clean_text_beyond_the_shared_index_table() -> None:
    raw = ("ًكلمة " * 9000) + "&quot;" + ("x" * (clean._INDEX_CAP + 10)) + "\u0640"
    view = clean.clean_text(raw, fold_letters=False)
    assert (view.text, view.origin) == plain_clean_text(raw, False)


@SETTINGS
@given(text)
@example(REPEATED_BODY)
@example(SHARED_SENTENCE)
def test_furniture_is_the_plain_form(raw: str) -> None:
    for view in (clean.clean_text(raw, fold_letters=False), clean.clean_text(raw)):
        t = view.text
        assert furniture._lines(t) == plain_lines(t)
        chrome = furniture.find_chrome(t)
        assert chrome == plain_find_chrome(t)
        keep = furniture.complement(len(t), chrome)
        assert furniture.find_repeats(t, keep) == plain_find_repeats(t, keep)
        keys = plain_sentence_keys(t, keep)
        if len(set(keys)) < len(keys):  # the cheap test never says "no" to a shared key
            assert furniture._may_repeat(t, keep)


@SETTINGS
@given(text, st.lists(st.integers(0, 400), max_size=6))
def test_repeats_over_any_kept_regions(raw: str, cuts: list[int]) -> None:
    t = clean.clean_text(raw).text
    bounds = sorted({min(c, len(t)) for c in cuts} | {0, len(t)})
    keep = list(zip(bounds[::2], bounds[1::2], strict=False))
    assert furniture.find_repeats(t, keep) == plain_find_repeats(t, keep)
    for start, end in keep:
        assert furniture._lines(t, start, end) == [
            (start + a, start + b, s) for a, b, s in plain_lines(t[start:end])
        ]


SENTENCE = "قال الوزير إن الحل في سوريا سياسي وليس عسكريا على الإطلاق."
# (page, drops as (first dropped line, last dropped line or None for the page's end, reason))
CHROME_BY_HAND: list[tuple[str, list[tuple[str, str | None, str]]]] = [
    (SENTENCE, []),
    (
        f"{SENTENCE}\nشارك\nفيسبوك\nhttps://x.y/z",
        [
            ("شارك", "شارك", "furniture_line"),
            ("فيسبوك", "فيسبوك", "furniture_line"),
            ("https://x.y/z", "https://x.y/z", "furniture_line"),
        ],
    ),
    (f"{SENTENCE}\nاكتب تعليقك\nكلام جميل جدا", [("اكتب تعليقك", None, "comments")]),
    (
        f"التعليقات (3):\n{SENTENCE}\n{SENTENCE}",
        [("التعليقات (3):", "التعليقات (3):", "furniture_line")],
    ),
    (
        f"{SENTENCE}\nاقرأ أيضا\nلافروف: لا حل عسكريا\nكيري يصل إلى جنيف\n{SENTENCE}",
        [("اقرأ أيضا", "كيري يصل إلى جنيف", "link_list")],
    ),
    (
        f"{SENTENCE}\nالدولار 3.75\nاليورو 4.2\nالين 0,5\n{SENTENCE}",
        [("الدولار 3.75", "الين 0,5", "currency_table")],
    ),
    (f"{SENTENCE}\nالدولار 3.75\nاليورو 4.2\n{SENTENCE}", []),  # two rows are no table
    (
        f"{SENTENCE}\nالاسعار الرسمية للعملات\nالدولار 3.75",
        [("الاسعار الرسمية للعملات", "الدولار 3.75", "currency_table")],
    ),
]


@pytest.mark.parametrize(("raw", "expected"), CHROME_BY_HAND)
def test_the_furniture_oracle_by_hand(
    raw: str, expected: list[tuple[str, str | None, str]]
) -> None:
    """Pages whose chrome is written out by hand: the naive oracle and furniture agree with
    them, so the property test below compares the code with something known right."""
    t = clean.clean_text(raw).text
    want = [
        (
            t.index(clean.fold(first)),
            len(t) if last is None else t.index(clean.fold(last)) + len(clean.fold(last)),
            reason,
        )
        for first, last, reason in expected
    ]
    assert plain_find_chrome(t) == want
    assert furniture.find_chrome(t) == want


def test_a_repeated_body_is_still_found() -> None:
    t = clean.clean_text(REPEATED_BODY * 2).text
    _, drops = furniture.find_furniture(t)
    assert [d for d in drops if d[2] == "repeat"]
    assert furniture.find_repeats(t, [(0, len(t))]) == plain_find_repeats(t, [(0, len(t))])


@SETTINGS
@given(text, st.lists(st.integers(0, 400), max_size=6))
def test_segmentation_is_the_plain_form(raw: str, cuts: list[int]) -> None:
    for view in (clean.clean_text(raw, fold_letters=False), clean.clean_text(raw)):
        t = view.text
        keep, _ = furniture.find_furniture(t)
        assert segment.paragraphs(t, keep) == plain_paragraphs(t, keep)
        assert segment.segment_field(t, keep) == plain_segment_field(t, keep)
        bounds = sorted({min(c, len(t)) for c in cuts} | {0, len(t)})
        regions = list(zip(bounds[::2], bounds[1::2], strict=False))
        assert segment.segment_field(t, regions) == plain_segment_field(t, regions)
        for region in (keep, regions):  # the spans alone pair only where a pair moves a cut
            assert segment.sentence_spans(t, region) == [
                (u.start, u.end, u.paragraph_index) for u in plain_segment_field(t, region)
            ]
        for para in plain_paragraphs(t, regions):
            quotes = segment.pair_quotes(t, *para)
            assert segment.split_sentences(t, para, quotes) == plain_split_sentences(
                t, para, quotes
            )
        assert segment.title_span(t) == plain_title_span(t)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text, st.one_of(st.none(), text))
def test_only_a_candidate_gets_units(body: str, title: str | None) -> None:
    """Every article gets the sentences its units give; only a candidate keeps the units."""
    cleaned = clean_article(Article("id", "s", body or "ن", title))
    analysed = segment_article(replace(cleaned, candidate=True))
    skipped = segment_article(replace(cleaned, candidate=False))
    assert (skipped.sentences, skipped.first_index) == (analysed.sentences, analysed.first_index)
    assert skipped.units == tuple(() for _ in cleaned.fields)
    plain_units = []
    for f in cleaned.fields:
        t = f.clean.text
        if f.name == "title":
            span = plain_title_span(t)
            plain_units.append(
                (segment.Unit(*span, 0, tuple(segment.pair_quotes(t, *span))),) if span else ()
            )
        else:
            plain_units.append(tuple(plain_segment_field(t, list(f.keep))))
    assert analysed.units == tuple(plain_units)
    assert [(s.char_start, s.char_end, s.paragraph_index) for s in analysed.sentences] == [
        (*f.clean.to_raw(u.start, u.end), u.paragraph_index)
        for f, units in zip(cleaned.fields, plain_units, strict=True)
        for u in units
    ]


@SETTINGS
@given(
    st.lists(st.sampled_from([*"..!?؟ \n\tاب", "مم", "a", '"', "\xa0"]), max_size=40).map("".join),
    st.integers(0, 45),
    st.integers(0, 45),
)
def test_sentence_end_regex_is_the_plain_form(t: str, pos: int, endpos: int) -> None:
    spans = [m.span() for m in segment._SENT_END.finditer(t, pos, endpos)]
    assert spans == [m.span() for m in _SENT_END_PLAIN.finditer(t, pos, endpos)]


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                *ENTITIES,
                *MARKS,
                *FORMS,
                *"\u201c\u201d\u2039\u203a\xa0\t",
                "a",
                "&",
                "#",
                ";",
                "؛",
                "1",
            ]
        ),
        max_size=30,
    ).map("".join),
    st.integers(0, 40),
)
def test_view_regex_is_the_plain_form(t: str, pos: int) -> None:
    """One pass finds the light characters, and the references and specials that the plain
    form finds in the text with its light characters mapped."""
    spans = [m.span() for m in clean._VIEW_RE.finditer(t, pos)]
    light = {(i, i + 1) for i in range(pos, len(t)) if t[i] in clean.LIGHT}
    special = {m.span() for m in _SPECIAL_PLAIN.finditer(plain_light(t), pos)}
    assert spans == sorted(light | special)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(text, st.one_of(st.none(), text)), min_size=0, max_size=4))
def test_columns_are_the_plain_transpose(pages: list[tuple[str, str | None]]) -> None:
    articles = [
        Article(f"id{i}", f"s{i}", body or "ن", title) for i, (body, title) in enumerate(pages)
    ]
    analyses = analyse_articles(articles)
    sentences = [s for a in analyses for s in a.sentences]
    spans = [d for a in analyses for d in a.dropped]
    for records, names in (
        (sentences, [f.name for f in tabulate.SCHEMAS["sentences"]]),
        ([a.article for a in analyses], list(tabulate._ARTICLE_COLUMNS)),
        (spans, ["field", "start", "end", "reason"]),
        (spans, ["reason"]),
    ):
        assert tabulate._columns(records, names) == plain_columns(records, names)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_tables_from_records(n: int) -> None:
    articles = [Article(f"id{i}", f"s{i}", REPEATED_BODY * (i + 1), "عنوان") for i in range(n)]
    analyses = analyse_articles(articles)
    sentences = tabulate.build_sentences(analyses)
    assert sentences.to_pylist() == [
        {f: getattr(s, f) for f in sentences.column_names} for a in analyses for s in a.sentences
    ]
    table = tabulate.build_articles(analyses)
    assert table.column("n_sentences").to_pylist() == [len(a.sentences) for a in analyses]
    assert table.column("dropped_spans").to_pylist() == [
        [{"field": d.field, "start": d.start, "end": d.end, "reason": d.reason} for d in a.dropped]
        for a in analyses
    ]
