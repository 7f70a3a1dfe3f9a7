"""The timeline is the one registry: every line names a factory, a module and a page that exist."""

import re
from pathlib import Path

import pytest

import keras_history
from keras_history import timeline
from keras_history.timeline import TIMELINE, milestone

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "milestones"


def test_every_line_is_a_registered_factory_exported_by_models():
    for m in TIMELINE:
        assert m.factory.__name__ == m.name
        assert m.factory.__module__ == f"keras_history.models.{m.module}"
        assert getattr(keras_history.models, m.name) is m.factory
    assert set(timeline._FACTORIES) == set(timeline.NAMES)


def test_numbers_follow_the_years():
    assert [m.number for m in TIMELINE] == list(range(1, len(TIMELINE) + 1))
    years = [m.year for m in TIMELINE if m.year is not None]
    assert years == sorted(years)
    assert len(set(timeline.NAMES)) == len(TIMELINE)


def test_every_milestone_has_its_page_and_every_page_a_milestone():
    assert {(ROOT / m.page).resolve() for m in TIMELINE} == set(PAGES.glob("*.md"))
    # Numbers follow from the timeline's order: a page's title carries none.
    numbered = [p.name for p in PAGES.glob("*.md") if re.match(r"# \d", p.read_text())]
    assert not numbered
    # ... and it opens with its bottom line: a summary box (source, ours, reproduced or not).
    unboxed = [p.name for p in PAGES.glob("*.md")
               if not re.match(r"# [^\n]+\n\n> \*\*[^\n]+\n> \*\*Ours:\*\*", p.read_text())]
    assert not unboxed


def test_the_decorator_takes_only_names_on_the_timeline():
    with pytest.raises(ValueError, match="not on the timeline"):
        milestone("perceptron_2")
    with pytest.raises(ValueError, match="known by its factory's name"):
        milestone("perceptron")(lambda: None)


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # code is not a link
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = [f"{doc.relative_to(ROOT)}: {target}" for doc in documents
              for target in relative_links(doc)
              if not (doc.parent / target.split("#")[0]).exists()]
    assert len(documents) > len(TIMELINE) and broken == []
