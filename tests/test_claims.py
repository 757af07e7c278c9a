"""pipelines.claims: near-duplicate quotations form claims; ids are stable; speakers never mix.

Also the claims suite (expectations/claims.json) and its derived checks, and the data
dictionary generated from the schemas (pipelines/dictionary.py).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from helpers import analyse_articles, read_inputs

from pipelines import claims, dictionary, tabulate, validate
from pipelines.validate import checks

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
PAIRS = ROOT / "tests" / "fixtures" / "claims_pairs.jsonl"
SUITE = ROOT / "expectations" / "claims.json"

STATEMENT = "على جميع الأطراف السورية أن تجلس على طاولة الحوار من دون استثناء"
PARAPHRASE = "على جميع الأطراف السورية أن تجلس إلى طاولة الحوار من دون استثناء"
OTHER_STATEMENT = "روسيا تنتظر معلومات أكثر دقة حول مبادرة الرياض لتشكيل تحالف جديد ضد الإرهاب"


def quotes_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A quotes table with the columns claims reads: quote_id, article_id, speaker_id,
    quote_text, published_date (the other tabulate.SCHEMAS columns are not looked at)."""
    fields = ["quote_id", "article_id", "speaker_id", "quote_text", "published_date"]
    schema = pa.schema([tabulate.SCHEMAS["quotes"].field(f) for f in fields])
    return pa.table({f: [r.get(f) for r in rows] for f in fields}, schema=schema)


def articles_table(sources: dict[str, str | None]) -> pa.Table:
    return pa.table(
        {"article_id": list(sources), "source": list(sources.values())},
        schema=pa.schema([("article_id", pa.string()), ("source", pa.string())]),
    )


def q(
    quote_id: str,
    text: str,
    speaker: str | None = "lavrov",
    article: str = "a1",
    date: dt.date | None = dt.date(2015, 10, 1),
) -> dict[str, Any]:
    return {
        "quote_id": quote_id,
        "article_id": article,
        "speaker_id": speaker,
        "quote_text": text,
        "published_date": date,
    }


def by_quote(quotes: pa.Table, claim_ids: pa.Array) -> dict[str, str | None]:
    return dict(zip(quotes.column("quote_id").to_pylist(), claim_ids.to_pylist(), strict=True))


def load_pairs() -> list[dict[str, Any]]:
    with open(PAIRS, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class TestNormalisation:
    @pytest.mark.parametrize(
        ("text", "tokens"),
        [
            ("سورية", ["سوريا"]),  # ta marbuta spelling of Syria
            ("سُورِيَا", ["سوريا"]),  # diacritics
            ("الأميركية", ["الامريكيه"]),  # ي before ر: the Gulf press spelling
            ("والأمريكيين", ["الامريكيين"]),  # conjunction و before the article
            ("للأزمة", ["الازمه"]),  # لِـ + الأزمة
            ("بالـــشكل", ["الشكل"]),  # tatweel, preposition ب before the article
            ("الموءتمر", ["الموتمر"]),  # a stray hamza
            ("١٨ ديسمبر", ["18", "ديسمبر"]),  # Eastern Arabic digits
            ("«داعش»", ["داعش"]),  # punctuation is not a word
        ],
    )
    def test_claim_tokens(self, text: str, tokens: list[str]) -> None:
        """Spelling variants of the press normalise to one form."""
        assert claims.claim_tokens(text) == tokens


class TestSameStatement:
    @pytest.mark.parametrize("case", load_pairs(), ids=lambda c: c["why"][:60])
    def test_fixture_pairs(self, case: dict[str, Any]) -> None:
        """Paraphrases of one statement join; different statements on one topic stay apart."""
        a = claims.text_features(claims.claim_tokens(case["a"]))
        b = claims.text_features(claims.claim_tokens(case["b"]))
        assert claims.same_statement(a, b) is case["same"], case["why"]
        assert claims.same_statement(b, a) is case["same"], "the test is symmetric"


class TestAssignClaims:
    def test_paraphrase_joins_across_articles(self) -> None:
        """Two papers' wordings of one statement are one claim, counted per article/source."""
        quotes = quotes_table(
            [
                q("q1", STATEMENT, article="a1", date=dt.date(2015, 10, 1)),
                q("q2", PARAPHRASE, article="a2", date=dt.date(2015, 10, 2)),
                q("q3", OTHER_STATEMENT, article="a2", date=dt.date(2015, 10, 2)),
            ]
        )
        table, ids = claims.assign_claims(quotes, articles_table({"a1": "aawsat", "a2": "okaz"}))
        assigned = by_quote(quotes, ids)
        assert assigned["q1"] == assigned["q2"] != assigned["q3"]
        row = next(r for r in table.to_pylist() if r["claim_id"] == assigned["q1"])
        assert row["n_quotes"] == 2 and row["n_articles"] == 2 and row["n_sources"] == 2
        assert row["sources"] == ["aawsat", "okaz"]
        assert (row["first_seen"], row["last_seen"]) == (dt.date(2015, 10, 1), dt.date(2015, 10, 2))
        assert row["quote_ids"] == ["q1", "q2"]
        assert table.schema.equals(claims.CLAIMS_SCHEMA, check_metadata=True)

    def test_speakers_never_share_a_claim(self) -> None:
        """The same words said by Lavrov and by Kerry (a joint statement) are two claims."""
        quotes = quotes_table(
            [
                q("q1", STATEMENT, "lavrov"),
                q("q2", STATEMENT, "kerry"),
                q("q3", PARAPHRASE, "kerry"),
            ]
        )
        table, ids = claims.assign_claims(quotes, None)
        assigned = by_quote(quotes, ids)
        assert assigned["q1"] != assigned["q2"] == assigned["q3"]
        assert sorted(table.column("speaker_id").to_pylist()) == ["kerry", "lavrov"]

    def test_unattributed_quotes_have_no_claim(self) -> None:
        """A quotation with a null speaker gets a null claim_id and forms no claim."""
        quotes = quotes_table([q("q1", STATEMENT, None), q("q2", PARAPHRASE, None)])
        table, ids = claims.assign_claims(quotes, None)
        assert ids.to_pylist() == [None, None] and table.num_rows == 0
        assert table.schema.equals(claims.CLAIMS_SCHEMA)

    def test_unknown_source_counts_each_article(self) -> None:
        """Articles without a source (.txt inputs) each count as a source of their own."""
        quotes = quotes_table(
            [
                q("q1", STATEMENT, article="a1"),
                q("q2", STATEMENT, article="a2"),
                q("q3", PARAPHRASE, article="a3"),
            ]
        )
        table, _ = claims.assign_claims(
            quotes, articles_table({"a1": None, "a2": None, "a3": "okaz"})
        )
        (row,) = table.to_pylist()
        assert (row["n_articles"], row["n_sources"], row["sources"]) == (3, 3, ["okaz"])

    def test_canonical_text_is_the_most_complete(self) -> None:
        """The canonical text is the longest member: the full sentence, not the clause."""
        short = "هناك تغيرا في المواقف الأمريكية بشأن رحيل الأسد"
        full = f"{short}، علما أن خروجه من الساحة السياسية في هذه الظروف أمر غير واقعي"
        quotes = quotes_table([q("q1", short, article="a1"), q("q2", full, article="a2")])
        table, _ = claims.assign_claims(quotes, None)
        (row,) = table.to_pylist()
        assert row["canonical_text"] == full and row["canonical_quote_id"] == "q2"

    def test_stable_ids_on_rerun_and_row_order(self) -> None:
        """The same quotations in any row order get the same claims and ids."""
        quotes = quotes_table(synthetic_rows(300, seed=1))
        table, ids = claims.assign_claims(quotes, None)
        order = list(range(quotes.num_rows))
        random.Random(2).shuffle(order)
        shuffled = quotes.take(pa.array(order))
        table2, ids2 = claims.assign_claims(shuffled, None)
        assert by_quote(quotes, ids) == by_quote(shuffled, ids2)
        assert table.equals(table2)

    def test_previous_claims_keep_their_ids(self) -> None:
        """New quotations join an old claim under its old id, even when they are earlier;
        without the previous claims the id follows the new earliest member."""
        old = quotes_table([q("q5", STATEMENT, article="a1", date=dt.date(2015, 10, 5))])
        old_claims, old_ids = claims.assign_claims(old, None)
        (old_id,) = old_ids.to_pylist()
        assert old_id == claims.claim_id_for("q5")

        new = quotes_table(
            [
                q("q5", STATEMENT, article="a1", date=dt.date(2015, 10, 5)),
                q("q1", PARAPHRASE, article="a2", date=dt.date(2015, 10, 1)),
                q("q9", OTHER_STATEMENT, article="a2", date=dt.date(2015, 10, 1)),
            ]
        )
        _, fresh = claims.assign_claims(new, None)
        assert by_quote(new, fresh)["q5"] == claims.claim_id_for("q1")  # anchor moved

        for previous in (old_claims, old.append_column("claim_id", old_ids)):
            table, kept = claims.assign_claims(new, None, previous_claims=previous)
            assigned = by_quote(new, kept)
            assert assigned["q5"] == assigned["q1"] == old_id
            assert assigned["q9"] == claims.claim_id_for("q9")
            assert sorted(table.column("claim_id").to_pylist()) == sorted({old_id, assigned["q9"]})

    def test_split_and_merge_keep_ids_unique(self) -> None:
        """A previous claim that split keeps its id where most of it went; a merge keeps one
        of the previous ids; no id is given twice."""
        quotes = quotes_table(
            [
                q("q1", STATEMENT),
                q("q2", PARAPHRASE),
                q("q3", OTHER_STATEMENT),
            ]
        )
        previous = pa.table(
            {"claim_id": ["aaaa", "bbbb", "cccc"], "quote_ids": [["q1", "q3"], ["q2"], []]}
        )
        table, ids = claims.assign_claims(quotes, None, previous_claims=previous)
        assigned = by_quote(quotes, ids)
        # q1+q2 now one claim: it holds one quotation of aaaa and one of bbbb -> the smaller id.
        assert assigned["q1"] == assigned["q2"] == "aaaa"
        # q3, split from aaaa, cannot keep aaaa: it is named after itself.
        assert assigned["q3"] == claims.claim_id_for("q3")
        assert sorted(table.column("claim_id").to_pylist()) == sorted(set(assigned.values()))

    def test_no_all_pairs_comparison(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Unrelated quotations of one speaker are not all compared: LSH picks candidates."""
        calls = 0
        verify = claims.same_statement

        def counting(*args: Any, **kwargs: Any) -> bool:
            nonlocal calls
            calls += 1
            return verify(*args, **kwargs)

        monkeypatch.setattr(claims, "same_statement", counting)
        rows = synthetic_rows(2000, seed=3, paraphrases=0)
        claims.assign_claims(quotes_table(rows), None)
        all_pairs = len(rows) * (len(rows) - 1) // 2
        assert calls < all_pairs / 100, (calls, all_pairs)

    def test_lsh_finds_paraphrases_among_noise(self) -> None:
        """Each planted paraphrase pair is found among unrelated quotations of the speaker."""
        rows = synthetic_rows(1500, seed=4, paraphrases=50)
        quotes = quotes_table(rows)
        _, ids = claims.assign_claims(quotes, None)
        assigned = by_quote(quotes, ids)
        planted = [r["quote_id"] for r in rows if r["quote_id"].startswith("p")]
        missed = [p for p in planted if assigned[p] != assigned["o" + p[1:]]]
        assert len(missed) <= 1, missed  # LSH is probabilistic: ~0.5 % of such pairs missed

    def test_minhash_is_deterministic(self) -> None:
        """Signatures depend only on the features and the fixed seed."""
        probes = [[1, 2, 3], [2**63 + 5, 7]]
        a = claims.minhash_signatures(probes)
        assert a.shape == (2, claims.DEFAULT_PARAMS.num_perm) and a.dtype == np.uint64
        assert np.array_equal(a, claims.minhash_signatures(probes))
        assert int(a.max()) < 2**32

    def test_attach_claims(self) -> None:
        """attach_claims fills quotes.claim_id and adds claims right after quotes."""
        quotes = quotes_table([q("q1", STATEMENT), q("q2", PARAPHRASE, None)])
        tables = claims.attach_claims({"articles": articles_table({"a1": None}), "quotes": quotes})
        assert list(tables) == ["articles", "quotes", "claims"]
        assert tables["quotes"].schema.field("claim_id").equals(claims.CLAIM_ID_FIELD, True)
        assert tables["quotes"].column("claim_id").to_pylist() == [claims.claim_id_for("q1"), None]
        again = claims.attach_claims(tables)  # replaces, does not append a second column
        assert again["quotes"].column_names.count("claim_id") == 1


_WORDS = re.findall(
    r"[\u0621-\u064a]{3,}",
    " ".join(p.read_text(encoding="utf-8") for p in sorted(SAMPLE_DIR.glob("*.txt"))),
)


def synthetic_rows(n: int, seed: int, paraphrases: int = 30) -> list[dict[str, Any]]:
    """``n`` random statements of Lavrov from the seeds' words, plus ``paraphrases`` pairs
    (``oNNN``, ``pNNN``) where the second drops one word and replaces another."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = rng.choices(_WORDS, k=rng.randint(6, 20))
        rows.append(q(f"r{i:05d}", " ".join(words), article=f"a{i % 97}"))
    for i in range(paraphrases):
        words = rng.choices(_WORDS, k=rng.randint(10, 20))
        other = list(words)
        del other[rng.randrange(len(other))]
        other[rng.randrange(len(other))] = rng.choice(_WORDS)
        rows.append(q(f"o{i:05d}", " ".join(words), article="b1"))
        rows.append(q(f"p{i:05d}", " ".join(other), article="b2"))
    return rows


# --- the seeds --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_tables() -> dict[str, pa.Table]:
    articles, quarantine = read_inputs([SAMPLE_DIR])
    tables = tabulate.build_tables(analyse_articles(articles), quarantine)
    return claims.attach_claims(tables)


def _seed_rows(tables: dict[str, pa.Table], prefix: str) -> list[dict[str, Any]]:
    return [r for r in tables["quotes"].to_pylist() if r["source_name"].startswith(prefix)]


# Statements 000 and 004 both report from Lavrov's and Kerry's New York press conference.
SHARED = [
    ("lavrov", r"قنوات اتصال بين العسكريين"),
    ("lavrov", r"الطيران الحربي الروسي لا يستهدف"),
    ("lavrov", r"بعض الأطراف السورية تطرح شروطا"),
    ("lavrov", r"موسكو تود أن تصبح سوري[اة] دولة مدنية"),
    ("lavrov", r"على جميع الأطراف السورية أن تجلس"),
    ("lavrov", r"هناك تغيرا في المواقف الأمريكية"),
    ("kerry", r"الطرفين بحثا جملة من الموضوعات"),
    ("kerry", r"نية الوزيرين عقد لقاء إضافي"),
]


class TestSeeds:
    @pytest.mark.parametrize(("speaker", "pattern"), SHARED, ids=[p for _, p in SHARED])
    def test_000_and_004_share_claims(
        self, seed_tables: dict[str, pa.Table], speaker: str, pattern: str
    ) -> None:
        """A statement both articles report falls into one claim, carried by two articles."""
        found = {}
        for prefix in ("000_", "004_"):
            hits = [
                r
                for r in _seed_rows(seed_tables, prefix)
                if r["speaker_id"] == speaker and re.search(pattern, r["quote_text"])
            ]
            assert hits, f"no {speaker} quotation matching {pattern!r} in {prefix}"
            found[prefix] = {r["claim_id"] for r in hits}
        shared = found["000_"] & found["004_"]
        assert shared, found
        row = next(r for r in seed_tables["claims"].to_pylist() if r["claim_id"] in shared)
        assert row["n_articles"] == 2 and row["n_sources"] == 2  # .txt: source unknown

    def test_speakers_never_share(self, seed_tables: dict[str, pa.Table]) -> None:
        """Every quotation of a claim has the claim's speaker."""
        claim_speaker = {
            r["claim_id"]: r["speaker_id"]
            for r in seed_tables["claims"].select(["claim_id", "speaker_id"]).to_pylist()
        }
        quotes = seed_tables["quotes"].select(["speaker_id", "claim_id"]).to_pylist()
        assert all(claim_speaker[r["claim_id"]] == r["speaker_id"] for r in quotes if r["claim_id"])
        assert {r["claim_id"] for r in quotes if r["claim_id"]} == set(claim_speaker)

    def test_joint_statement_is_two_claims(self, seed_tables: dict[str, pa.Table]) -> None:
        """002: Lavrov and Kerry both stress the political solution: same words, two claims."""
        rows = [
            r
            for r in _seed_rows(seed_tables, "002_")
            if r["quote_text"].startswith("أهمية العمل من أجل الحل السياسي")
        ]
        assert {r["speaker_id"] for r in rows} == {"lavrov", "kerry"}
        assert len({r["claim_id"] for r in rows}) == 2

    def test_rerun_gives_the_same_ids(self, seed_tables: dict[str, pa.Table]) -> None:
        """A second run over the seeds, with or without the first run's claims, changes no id."""
        first = seed_tables["claims"]
        again, _ = claims.assign_claims(seed_tables["quotes"], seed_tables["articles"])
        kept, _ = claims.assign_claims(seed_tables["quotes"], seed_tables["articles"], first)
        assert again.equals(first) and kept.equals(first)

    def test_derived_checks_pass_and_catch(self, seed_tables: dict[str, pa.Table]) -> None:
        """The claims suite's chk_* columns are all true on the seeds, and catch a bad count,
        a claim whose quotation changed speaker, and a quotation pointing nowhere."""
        assert all(all(v) for v in derived(seed_tables).values())
        assert all(quotes_check(seed_tables))

        c = seed_tables["claims"]
        i = c.schema.get_field_index("n_articles")
        bad = c.set_column(
            i, c.field(i), pa.array([n + 1 for n in c.column(i).to_pylist()], pa.int32())
        )
        assert not any(derived(dict(seed_tables, claims=bad))["chk_n_articles"])

        quotes = seed_tables["quotes"]
        j = quotes.schema.get_field_index("speaker_id")
        speakers = quotes.column(j).to_pylist()
        k = next(n for n, cid in enumerate(quotes.column("claim_id").to_pylist()) if cid)
        speakers[k] = "hagel" if speakers[k] != "hagel" else "kerry"
        moved = quotes.set_column(j, quotes.field(j), pa.array(speakers, pa.string()))
        assert not all(derived(dict(seed_tables, quotes=moved))["chk_speaker"])
        assert not quotes_check(dict(seed_tables, quotes=moved))[k]


def _with_row(table: pa.Table) -> pa.Table:
    return table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def derived(tables: dict[str, pa.Table]) -> dict[str, list[bool]]:
    con = duckdb.connect()
    for name in validate.DERIVED_READS["claims"]:
        con.register(name, _with_row(tables[name]))
    result = con.sql(checks.CLAIMS_SQL).to_arrow_table().to_pydict()
    assert list(result) == list(validate.DERIVED["claims"])
    return result


def quotes_check(tables: dict[str, pa.Table]) -> list[bool]:
    con = duckdb.connect()
    for name in ("quotes", "claims"):
        con.register(name, _with_row(tables[name]))
    return con.sql(checks.QUOTE_CLAIM_SQL).to_arrow_table().column(0).to_pylist()


class TestSuite:
    def test_columns_match_schema(self) -> None:
        """claims.json lists the schema's columns, then the derived checks, in order."""
        suite = json.loads(SUITE.read_text(encoding="utf-8"))
        assert suite["name"] == "claims"
        first = suite["expectations"][0]
        assert first["type"] == "expect_table_columns_to_match_ordered_list"
        assert first["kwargs"]["column_list"] == [
            *claims.CLAIMS_SCHEMA.names,
            *validate.DERIVED["claims"],
        ]
        checked = {
            e["kwargs"].get("column")
            for e in suite["expectations"]
            if e["kwargs"].get("value_set") == [True]
        }
        assert checked == set(validate.DERIVED["claims"])

    def test_ge_loads_every_expectation(self) -> None:
        """Great Expectations builds every expectation of the suite (none silently dropped)."""
        suite = validate.load_suite("claims")
        assert len(suite.expectations) == len(json.loads(SUITE.read_text())["expectations"])


class TestDataDictionary:
    def test_committed_file_is_up_to_date(self) -> None:
        """docs/data-dictionary.md is what the schemas generate."""
        expected = dictionary.render_data_dictionary(dictionary.all_schemas())
        current = dictionary.DOCS_PATH.read_text(encoding="utf-8")
        assert current == expected, f"docs/data-dictionary.md is stale: run {dictionary.REGENERATE}"

    def test_lists_claims_and_nested_fields(self) -> None:
        """Every column of every table appears with its type and meaning, nested ones too."""
        text = dictionary.render_data_dictionary(dictionary.all_schemas())
        assert "## claims" in text
        assert "| `claim_id` | string | yes | The claim the quotation belongs to" in text
        assert "| `sources` | list<string> | no |" in text
        assert "| `dropped_spans[].reason` | string | no |" in text
        for name, schema in dictionary.all_schemas().items():
            assert f"## {name}" in text
            for field in schema:
                assert f"| `{field.name}` |" in text

    def test_check_mode(self, tmp_path: Path) -> None:
        """--check exits 1 on a stale file and 0 after regenerating."""
        path = tmp_path / "dd.md"
        path.write_text("stale\n", encoding="utf-8")
        assert dictionary.main(["--check", "--path", str(path)]) == 1
        assert dictionary.main(["--path", str(path)]) == 0
        assert dictionary.main(["--check", "--path", str(path)]) == 0
