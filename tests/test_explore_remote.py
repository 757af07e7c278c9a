"""The explorer over a dataset in an object store (moto's S3, as tests/test_remote.py sets it
up): its tables read through the manifest, its report served from the bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explore_data import build_dataset
from test_remote import s3_endpoint, s3_out  # noqa: F401  (fixtures)

from pipelines.explore.app import create_app
from pipelines.explore.data import Explorer, open_published
from pipelines.store import open_store


def test_explore_an_s3_dataset(s3_out: str, tmp_path: Path) -> None:  # noqa: F811
    """Search and an article page answer from the bucket; /report/ is the uploaded page."""
    from fastapi.testclient import TestClient

    tables = build_dataset(tmp_path / "local")
    target = open_store(s3_out)
    target.publish("explore-remote", replace=tables)
    target.upload_dir(str(tmp_path / "local" / "report"), "report")
    client: Any = TestClient(create_app(Explorer(open_published(s3_out))))
    page = client.get("/", params={"speaker_id": "kerry", "q": "جنيف"}).text
    kerry = [q for q in tables["quotes"].to_pylist()
             if q["speaker_id"] == "kerry" and "جنيف" in q["quote_text"]]  # fmt: skip
    assert f'id="total">{len(kerry)}<' in page
    assert client.get(f"/article/{kerry[0]['article_id']}").status_code == 200
    report = client.get("/report/")
    assert report.status_code == 200 and "isnad report" in report.text
    assert client.get("/validation/").status_code == 404  # none uploaded
