"""The analysts' explorer (``isnad explore DIR|URI``): a local, read-only web app over a
published dataset.

``data`` loads one committed version (through the manifest) into an in-memory DuckDB database
and answers the queries; ``highlight`` cuts a text into the pieces a page marks (cue, speaker
mention, content, dropped furniture); ``app`` is the FastAPI application and its Jinja2
templates (autoescaped), served with the run's report page and Data Docs.
"""
