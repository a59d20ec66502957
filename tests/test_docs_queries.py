"""docs/queries.md lists every query path the app answers (a client author in another language reads
only the docs)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docs_queries_lists_every_query_path():
    sources = [ROOT / "chain" / "queries.py", *sorted((ROOT / "chain").glob("*/queries.py"))]
    paths = set()
    for source in sources:
        paths |= set(re.findall(r'"(/(?:store|auth|bank|validators|registry|rounds|bridge)(?:/[a-z_]+)?)"',
                                source.read_text()))
    assert len(paths) > 20, paths
    doc = (ROOT / "docs" / "queries.md").read_text()
    missing = sorted(p for p in paths if f"`{p}`" not in doc)
    assert not missing, f"docs/queries.md does not describe {missing}"
