"""Speakers as data (issue 16): one registry file drives attribution, the tables, the suites
and the report; ``isnad registry check`` says what is wrong with one.

The must-show: a speaker added as data only (Mike Pompeo, Secretary of State from
2018-04-26) gets his quotations from 2018 articles, named and by role, in a run whose every
suite passes; the same role-only article dated before his tenure gives him nothing (the
office then resolves to Rex Tillerson, whom the registry knows but does not track).
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import analyse_articles, read_inputs

from flows import cli
from pipelines import registry, report, speakers
from pipelines.records import Article

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the project (or beside a worktree's parent); a clone has none.
ANT_2018 = next(
    (
        base / "shared" / "corpus" / "ant-2018-dev.jsonl.gz"
        for base in (ROOT.parent, ROOT.parent.parent)
        if (base / "shared" / "corpus" / "ant-2018-dev.jsonl.gz").is_file()
    ),
    ROOT.parent / "shared" / "corpus" / "ant-2018-dev.jsonl.gz",
)
POMPEO = {
    "speaker_id": "pompeo",
    "qid": "Q473239",  # as recalled (see registries/README.md): the test checks the column
    "name_en": "Mike Pompeo",
    "name_ar": "مايك بومبيو",
    "surnames": ["بومبيو"],
    "weak_surnames": [],
    "first_names": ["مايك", "مايكل"],
}
# Invented articles (no corpus text): Pompeo named, and the office alone.
NAMED = (
    "بومبيو: واشنطن ملتزمة بأمن حلفائها",
    "قال وزير الخارجية الأمريكي مايك بومبيو، اليوم الأربعاء، إن الولايات المتحدة ملتزمة "
    "بأمن حلفائها في المنطقة. وأكد بومبيو أن العقوبات على إيران ستبقى حتى تغير سلوكها.",
)
BY_ROLE = (
    "واشنطن تحذر من التصعيد",
    "وقال وزير الخارجية الأمريكي في مؤتمر صحفي إن بلاده ستواصل الضغط على إيران. وأضاف "
    "أن واشنطن لن تقبل بأي تصعيد في المنطقة.",
)
IN_TENURE = dt.date(2018, 6, 13)
BEFORE_TENURE = dt.date(2018, 1, 17)  # Tillerson's time


def _default_data() -> dict:
    return json.loads(Path(speakers.shipped_registry()).read_text("utf-8"))


def _with_pompeo() -> dict:
    """The default registry plus Pompeo: a speaker entry, and his tenure now his id's."""
    data = copy.deepcopy(_default_data())
    data["name"] = "default + pompeo"
    data["speakers"].append(copy.deepcopy(POMPEO))
    for office in data["offices"]:
        for i, h in enumerate(office["holders"]):
            if h.get("name_en") == "Mike Pompeo":
                office["holders"][i] = {"speaker_id": "pompeo", "start": h["start"],
                                        "end": h["end"]}  # fmt: skip
    return data


@pytest.fixture
def restore_registry() -> Iterator[None]:
    """Whatever a test makes the registry in use, the default is back afterwards."""
    env = os.environ.get(speakers.REGISTRY_ENV)
    yield
    speakers.use_registry(None)
    if env is None:
        os.environ.pop(speakers.REGISTRY_ENV, None)
    else:
        os.environ[speakers.REGISTRY_ENV] = env


@pytest.fixture
def pompeo_registry(tmp_path: Path, restore_registry: None) -> Path:
    path = tmp_path / "pompeo.json"
    path.write_text(json.dumps(_with_pompeo(), ensure_ascii=False), "utf-8")
    speakers.use_registry(str(path))
    return path


def _article(title_text: tuple[str, str], day: dt.date, n: int) -> Article:
    title, text = title_text
    return Article(f"{n:016x}", f"a{n}", text, title=title, published_date=day)


class TestPompeoAsData:
    def test_named_and_by_role_in_tenure(self, pompeo_registry: Path) -> None:
        """Named ("وزير الخارجية الأمريكي مايك بومبيو"، "بومبيو: ...") and by role alone
        ("وزير الخارجية الأمريكي" in June 2018), his quotations are his."""
        named, by_role = analyse_articles(
            [_article(NAMED, IN_TENURE, 1), _article(BY_ROLE, IN_TENURE, 2)]
        )
        assert {q.speaker_id for q in named.quotes} == {"pompeo"}
        assert {q.attribution_method for q in named.quotes} >= {"name", "headline"}
        assert len(named.quotes) == 3
        assert [q.speaker_id for q in by_role.quotes] == ["pompeo", "pompeo"]
        assert [q.attribution_method for q in by_role.quotes] == ["role", "continuation"]

    def test_before_his_tenure_the_office_is_not_his(self, pompeo_registry: Path) -> None:
        """The same role-only article in January 2018 gives him nothing: the office was
        Tillerson's, whose name becomes the speaker_mention (speaker_id null)."""
        (by_role,) = analyse_articles([_article(BY_ROLE, BEFORE_TENURE, 3)])
        assert len(by_role.quotes) == 2
        assert all(q.speaker_id is None for q in by_role.quotes)
        assert {q.speaker_mention for q in by_role.quotes} == {"ريكس تيلرسون"}
        assert all(q.mention_start is None for q in by_role.quotes)

    def test_the_default_registry_does_not_track_him(self, restore_registry: None) -> None:
        """Without the registry entry, the same office in June 2018 is Pompeo's, untracked."""
        speakers.use_registry(None)
        (by_role,) = analyse_articles([_article(BY_ROLE, IN_TENURE, 4)])
        assert {(q.speaker_id, q.speaker_mention) for q in by_role.quotes} == {
            (None, "مايك بومبيو")
        }

    @pytest.mark.skipif(not ANT_2018.exists(), reason="the shared 2018 corpus is not here")
    def test_shared_2018_corpus(self, pompeo_registry: Path, tmp_path: Path) -> None:
        """Articles of the shared 2018 corpus naming him: quotations attributed to him, by
        name and by role; none by role before 26 April 2018."""
        sample = tmp_path / "pompeo.jsonl"
        with gzip.open(ANT_2018, "rt", encoding="utf-8") as fh, open(sample, "w") as out:
            out.writelines(line for line in fh if "بومبيو" in line)
        articles, _ = read_inputs([str(sample)])
        quotes = [q for a in analyse_articles(articles) for q in a.quotes]
        his = [q for q in quotes if q.speaker_id == "pompeo"]
        assert len(his) >= 50
        assert {"name", "role"} <= {q.attribution_method for q in his}
        start = dt.date(2018, 4, 26)
        by_role = [q for q in his if q.attribution_method == "role"]
        assert all(q.published_date and q.published_date >= start for q in by_role)


@pytest.mark.flow
class TestRunWithARegistry:
    def test_every_suite_passes_and_registries_do_not_mix(
        self, prefect_harness: None, pompeo_registry: Path, tmp_path: Path
    ) -> None:
        """``isnad run --registry``: a validated dataset with Pompeo's quotations, his QID and
        the registry's hash; a run with another registry into the same --out stops, unless
        told to start a new dataset."""
        from flows import pipeline

        inbox = tmp_path / "inbox"
        inbox.mkdir()
        records = [
            {"id": "named", "title": NAMED[0], "text": NAMED[1], "date": str(IN_TENURE)},
            {"id": "role", "title": BY_ROLE[0], "text": BY_ROLE[1], "date": str(IN_TENURE)},
            {"id": "before", "title": BY_ROLE[0] + " ", "text": BY_ROLE[1] + " ",
             "date": str(BEFORE_TENURE)},
        ]  # fmt: skip
        (inbox / "a.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8"
        )
        out = tmp_path / "out"
        summary = pipeline.isnad_flow([str(inbox)], str(out), registry=str(pompeo_registry))
        assert summary["validation_success"] is True
        assert summary["quotes_by_speaker"] == {"pompeo": 5, "other": 2}
        digest = speakers.load_registry(str(pompeo_registry)).digest
        table = pq.read_table(out / "speakers").to_pydict()
        assert table["speaker_id"][-1] == "pompeo" and table["qid"][-1] == "Q473239"
        assert table["n_quotes"][-1] == 5 and set(table["registry_hash"]) == {digest}
        (run,) = pq.read_table(out / "runs").to_pylist()
        assert run["registry_hash"] == digest

        with pytest.raises(pipeline.RegistryMismatch, match="another speaker registry"):
            pipeline.isnad_flow([str(inbox)], str(out))
        summary = pipeline.isnad_flow([str(inbox)], str(out), new_dataset=True)
        assert summary["validation_success"] and "pompeo" not in summary["quotes_by_speaker"]
        (aside,) = tmp_path.glob("out.before-*")
        assert pq.read_table(aside / "runs").column("registry_hash").to_pylist() == [digest]


def _problems(data: dict) -> list[str]:
    return [p.message for p in registry.check_registry(data) if p.error]


class TestRegistryCheck:
    @pytest.mark.parametrize("name", ["default.json", "successors.json"])
    def test_shipped_registries_are_clean(self, name: str) -> None:
        """The registries shipped with isnad have no error."""
        data = json.loads(Path(speakers.shipped_registry(name)).read_text("utf-8"))
        assert _problems(data) == []

    def test_overlapping_tenures(self) -> None:
        """Two holders of one office on the same day: a role would resolve to either."""
        data = _with_pompeo()
        fm_us = next(o for o in data["offices"] if (o["role"], o["country"]) == ("fm", "us"))
        fm_us["holders"][-1]["start"] = "2024-06-01"  # Rubio before Blinken left
        assert any("tenures overlap" in p and "Antony Blinken" in p for p in _problems(data))

    def test_surname_shared_by_two_speakers(self) -> None:
        data = _with_pompeo()
        data["speakers"][-1]["surnames"].append("كيري")
        assert any("surname 'كيري' is also kerry's" in p for p in _problems(data))

    def test_variant_that_is_a_common_word(self) -> None:
        """A surname that is an ordinary word must be listed as weak (as المعلم is)."""
        data = _with_pompeo()
        data["speakers"][-1]["surnames"].append("السلام")
        assert any("'السلام' is a common word" in p for p in _problems(data))
        data["speakers"][-1]["weak_surnames"].append("السلام")
        assert _problems(data) == []

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (lambda d: d["speakers"][0].pop("name_ar"), "'name_ar' is required"),
            (lambda d: d["speakers"][0].update(qid="22316"), "not a Wikidata id"),
            (lambda d: d["speakers"][1].update(speaker_id="lavrov"), "appears twice"),
            (lambda d: d["offices"][0].update(country="xx"), "not a code of"),
            (lambda d: d["offices"][0].update(role="pm"), "role 'pm' is not one of"),
            (lambda d: d["offices"][0]["holders"][0].update(end="1990-01-01"), "ends (1990"),
            (lambda d: d["offices"][0]["holders"][0].update(start="2004"), "not an ISO date"),
            (lambda d: d["offices"][0]["holders"].append({"speaker_id": "x",
                                                          "start": "2030-01-01"}),
             "'x' is not one of the registry's speakers"),
            (lambda d: d.update(format="v0"), "must be 'isnad-registry/1'"),
        ],
    )  # fmt: skip
    def test_schema(self, change, expected: str) -> None:
        data = copy.deepcopy(_default_data())
        change(data)
        assert any(expected in p for p in _problems(data)), _problems(data)

    def test_a_speaker_needs_an_office(self) -> None:
        data = copy.deepcopy(_default_data())
        data["speakers"].append(dict(POMPEO))
        assert any("holds no office" in p for p in _problems(data))

    def test_a_bad_registry_is_refused_before_the_run(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_registry: None
    ) -> None:
        """``isnad run --registry`` with a broken file is a usage error naming the problem;
        ``isnad registry check`` lists it and exits 1."""
        data = _with_pompeo()
        data["speakers"][-1]["surnames"].append("كيري")
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        inbox = tmp_path / "in"
        inbox.mkdir()
        code = cli.main(["run", str(inbox), "--out", str(tmp_path / "o"), "--registry", str(bad)])
        assert code == cli.EXIT_USAGE
        assert "also kerry's" in capsys.readouterr().err
        assert cli.main(["registry", "check", str(bad)]) == cli.EXIT_ERROR
        assert "1 error(s)" in capsys.readouterr().out
        assert cli.main(["registry", "show"]) == 0
        shown = capsys.readouterr().out
        assert "registry_hash: " + speakers.load_registry().digest in shown
        assert "(Rex Tillerson, not tracked)" in shown


class TestDrivenByTheRegistry:
    def test_suites_take_their_value_sets_from_it(self, pompeo_registry: Path) -> None:
        """No suite names a speaker: the value sets are the registry's ids."""
        from pipelines import validate

        for name in ("quotes", "claims", "speakers"):
            text = json.dumps(validate.read_suite_json(name, None))
            assert '"pompeo"' in text and "$REGISTRY" not in text
        raw = (Path(validate.SUITES_DIR) / "quotes.json").read_text("utf-8")
        assert "lavrov" not in raw

    def test_colours_in_registry_order_and_distinct(self) -> None:
        ids = [f"s{i}" for i in range(12)]
        colours = report.speaker_colours(ids)
        assert list(colours.values()) == list(report.PALETTE[:12])
        assert len(set(colours.values())) == 12

    def test_cascade_prefilter_follows_the_registry(self, pompeo_registry: Path) -> None:
        """An article naming only the new speaker passes the cascade with his registry."""
        from pipelines.clean import clean_text

        text = clean_text("وقال مايك بومبيو إن المحادثات كانت مثمرة").text
        assert speakers.passes_prefilter(text) and speakers.may_mention_tracked(text)
        speakers.use_registry(None)
        assert not speakers.may_mention_tracked(text)
